"""Does the rest of the picture stay put? Background change and face PSNR against the reference.

Both are observers of the tracking pass (``track.FrameObserver``): they see
each decoded frame once, with the landmarks FaceMesh found on it.

- Background: pixels outside the head-and-neck mask (the face outline widened
  1.35 times about its centre, 1.8 times upwards, to take in hair, hats and
  ears, plus a band from the jaw down to the bottom of the frame) whose grey level changes by more than
  2 between consecutive frames. Frame pairs where either frame has no face
  are skipped.
- Face PSNR: the reference photo is aligned to each frame by a similarity
  transform fitted on landmarks a talking mouth does not move (eye corners,
  nose ridge, forehead, temples) and refined photometrically (affine ECC on
  the face scaled to about 128 px), then
  compared over the face outline, shrunk a little, minus the mouth and jaw
  (outer lips and the chin arc, widened by 0.15 inter-ocular distances), where
  speech is supposed to change the face.
"""

from __future__ import annotations

import numpy as np

from talkcli.eval.track import EYE_OUTER_CORNERS, STABLE_POINTS, similarity_transform
from talkcli.face import topology as topo

CHANGE_THRESHOLD = 2  # grey levels (0..255)
HEAD_SCALE = 1.35  # the head mask: the face outline widened this much about its centre...
HEAD_SCALE_UP = 1.8  # ...and this much upwards, for hair and hats
_JAW_ARC = topo.FACE_OVAL[topo.FACE_OVAL.index(397) : topo.FACE_OVAL.index(172) + 1]  # jaw angle to jaw angle via the chin
_OUTER_LIPS = topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER


def _iod(lm: np.ndarray) -> float:
    a, b = EYE_OUTER_CORNERS
    return float(np.linalg.norm(lm[a] - lm[b]))


def head_neck_mask(lm: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(H, W) bool``: the head (face outline widened 1.35x) and the neck below the jaw."""
    import cv2

    h, w = shape[:2]
    mask = np.zeros((h, w), dtype=np.uint8)
    oval = lm[topo.FACE_OVAL, :2].astype(np.float64)
    centre = oval.mean(axis=0)
    rel = oval - centre
    # Up the face's own axis (eye line levelled), hair and hats reach further than ears do sideways.
    up = lm[10, :2] - lm[152, :2]
    up = up / (np.linalg.norm(up) + 1e-9)
    along = rel @ up
    rel = rel * HEAD_SCALE + np.outer(np.clip(along, 0, None) * (HEAD_SCALE_UP - HEAD_SCALE), up)
    head = centre + rel
    cv2.fillPoly(mask, [np.round(head).astype(np.int32)], 1)
    left, right = lm[172, :2], lm[397, :2]
    if left[0] > right[0]:
        left, right = right, left
    margin = 0.15 * abs(right[0] - left[0])
    neck = np.array([left, right, (right[0] + margin, h + 1), (left[0] - margin, h + 1)])
    cv2.fillPoly(mask, [np.round(neck).astype(np.int32)], 1)
    return mask.astype(bool)


def face_outside_mouth_mask(lm: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(H, W) bool``: inside the face outline (shrunk by 0.08 IOD), outside the mouth-and-jaw region."""
    import cv2

    h, w = shape[:2]
    iod = _iod(lm)
    face = np.zeros((h, w), dtype=np.uint8)
    cv2.fillPoly(face, [np.round(lm[topo.FACE_OVAL, :2]).astype(np.int32)], 1)
    shrink = max(1, int(round(0.08 * iod)))
    face = cv2.erode(face, np.ones((2 * shrink + 1, 2 * shrink + 1), np.uint8))
    mouth = np.zeros((h, w), dtype=np.uint8)
    hull = cv2.convexHull(np.round(lm[_OUTER_LIPS + _JAW_ARC, :2]).astype(np.int32))
    cv2.fillPoly(mouth, [hull], 1)
    grow = max(1, int(round(0.15 * iod)))
    mouth = cv2.dilate(mouth, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return (face > 0) & (mouth == 0)


class BackgroundChange:
    """Counts background pixels whose grey level changes by more than ``threshold`` between frames."""

    def __init__(self, threshold: int = CHANGE_THRESHOLD) -> None:
        self.threshold = threshold
        self.changed = 0  # changed background pixels, all pairs
        self.pixels = 0  # background pixels compared, all pairs
        self.pair_fractions: list[float] = []  # per compared pair of frames (index - 1, index)
        self.pair_frames: list[int] = []  # the later frame of each compared pair
        self.skipped_pairs = 0
        self.change_count: np.ndarray | None = None  # (H, W) int32: pairs in which each background pixel changed
        self.mean_grey: np.ndarray | None = None
        self._prev: tuple[np.ndarray, np.ndarray | None] | None = None
        self._frames = 0

    def update(self, index: int, frame: np.ndarray, landmarks: np.ndarray | None) -> None:
        import cv2

        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        mask = head_neck_mask(landmarks, frame.shape) if landmarks is not None else None
        if self.mean_grey is None or self.mean_grey.shape != grey.shape:
            self.mean_grey = np.zeros(grey.shape, np.float64)
            self.change_count = np.zeros(grey.shape, np.int32)
            self._frames = 0
            self._prev = None
        self.mean_grey += grey
        self._frames += 1
        prev = self._prev
        self._prev = (grey, mask)
        if prev is None:
            return
        prev_grey, prev_mask = prev
        if mask is None or prev_mask is None:
            self.skipped_pairs += 1
            return
        background = ~(mask | prev_mask)
        diff = cv2.absdiff(grey, prev_grey) > self.threshold
        changed = diff & background
        n_bg = int(background.sum())
        n_changed = int(changed.sum())
        self.changed += n_changed
        self.pixels += n_bg
        self.change_count += changed
        self.pair_fractions.append(n_changed / n_bg if n_bg else 0.0)
        self.pair_frames.append(index)

    @property
    def fraction(self) -> float | None:
        """Changed background pixels over all background pixels compared, all frame pairs pooled."""
        return self.changed / self.pixels if self.pixels else None

    def mean_frame(self) -> np.ndarray | None:
        return None if self.mean_grey is None else (self.mean_grey / max(self._frames, 1)).astype(np.uint8)


class FacePsnr:
    """PSNR of the face outside the mouth region against the reference photo aligned to each frame.

    Landmarks alone place the reference within a few pixels, and a few pixels
    of misregistration on a textured face cost more PSNR than the rendering
    does, so the landmark similarity is refined photometrically (OpenCV's ECC,
    affine, on the compared region). Every ``every``-th frame is compared.
    """

    def __init__(self, ref_rgb: np.ndarray, ref_landmarks: np.ndarray, every: int = 1) -> None:
        self.ref = np.ascontiguousarray(ref_rgb)
        self.ref_lm = np.asarray(ref_landmarks, dtype=np.float64)[:, :2]
        self.every = max(1, int(every))
        self.sse = 0.0
        self.count = 0
        self.frame_psnr: dict[int, float] = {}
        self.unrefined = 0  # frames where ECC did not converge (landmark alignment only)
        self._scaled = False

    def _prepare(self, lm: np.ndarray) -> None:
        # Shrink a much larger reference once with area averaging, so the per-frame
        # warp is close to 1:1 and does not alias.
        import cv2

        scale = _iod(lm) / _iod(self.ref_lm)
        if scale < 0.8:
            h, w = self.ref.shape[:2]
            size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
            self.ref = cv2.resize(self.ref, size, interpolation=cv2.INTER_AREA)
            self.ref_lm = self.ref_lm * np.array([size[0] / w, size[1] / h])
        self._scaled = True

    def update(self, index: int, frame: np.ndarray, landmarks: np.ndarray | None) -> None:
        import cv2

        if landmarks is None or index % self.every:
            return
        lm = np.asarray(landmarks, dtype=np.float64)
        if not self._scaled:
            self._prepare(lm)
        h, w = frame.shape[:2]
        oval = lm[topo.FACE_OVAL]
        x0, y0 = np.floor(np.clip(oval.min(axis=0), 0, [w, h])).astype(int)
        x1, y1 = np.ceil(np.clip(oval.max(axis=0), 0, [w, h])).astype(int)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return
        size = (x1 - x0, y1 - y0)
        m = similarity_transform(self.ref_lm[STABLE_POINTS], lm[STABLE_POINTS])
        m[:, 2] -= (x0, y0)  # warp only the face's bounding box
        warped = cv2.warpAffine(self.ref, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = face_outside_mouth_mask(lm - (x0, y0), (size[1], size[0]))
        n = int(mask.sum())
        if n < 64:
            return
        target = np.ascontiguousarray(frame[y0:y1, x0:x1])
        try:
            warp = _ecc_affine(target, warped, mask)
            # ECC's warp maps frame coordinates into the warped reference: compose, resample once.
            full = np.vstack([m, [0, 0, 1]])
            warped = cv2.warpAffine(
                self.ref, (_inverse_affine(warp) @ full)[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        except cv2.error:
            self.unrefined += 1
        diff = target[mask].astype(np.float64) - warped[mask].astype(np.float64)
        sse = float(np.sum(diff * diff))
        self.sse += sse
        self.count += diff.size
        self.frame_psnr[index] = _psnr(sse / diff.size)

    @property
    def psnr_db(self) -> float | None:
        """PSNR (dB, 8-bit RGB) of all compared face pixels of all compared frames pooled."""
        return _psnr(self.sse / self.count) if self.count else None


ECC_SIDE = 128  # ECC runs on the face scaled down to about this many pixels across (the warp is rescaled)


def _ecc_affine(target: np.ndarray, moving: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Affine ``(2, 3)`` warp with ``moving(warp(x)) ~ target(x)``, fitted by ECC on a downscaled copy."""
    import cv2

    h, w = target.shape[:2]
    f = min(1.0, ECC_SIDE / max(h, w))
    size = (max(8, int(round(w * f))), max(8, int(round(h * f))))
    grey = lambda rgb: cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    warp = np.eye(2, 3, dtype=np.float32)
    _, warp = cv2.findTransformECC(
        grey(target), grey(moving), warp, cv2.MOTION_AFFINE,
        (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4), small_mask, 3,
    )  # fmt: skip
    warp = warp.astype(np.float64)
    sx, sy = size[0] / w, size[1] / h
    # Back to full resolution: x_small = S x, so warp_full = S^-1 warp_small S.
    s = np.diag([sx, sy, 1.0])
    return (np.linalg.inv(s) @ np.vstack([warp, [0, 0, 1]]) @ s)[:2]


def _inverse_affine(m: np.ndarray) -> np.ndarray:
    """``(3, 3)`` inverse of a ``(2, 3)`` affine matrix."""
    full = np.vstack([np.asarray(m, dtype=np.float64), [0, 0, 1]])
    return np.linalg.inv(full)


def _psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else float(10.0 * np.log10(255.0**2 / mse))
