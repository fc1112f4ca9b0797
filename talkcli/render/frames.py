"""Motion blocks -> video frames: mesh warp of the reference crop, mouth interior, paste-back.

Frames are composed in two layers. The head layer is the warped crop, cut
out by the head matte warped with it (``face.mask``); the still layer is the
photo itself, so background and body pixels outside the moving head never
change. Where the head moves away from where it was, the still layer shows
the background filled in once at set-up (inpainted), faded in with the
amount of head motion, so a still head gives back the photo exactly.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from talkcli.motion.generator import MotionBlock
from talkcli.face import topology as topo
from talkcli.render.eyes import EyeLayer
from talkcli.render.mouth import MouthModel, lips_without_teeth
from talkcli.render.paste import CropFrame, PasteData
from talkcli.render.rig import FaceRig
from talkcli.render.warp import MeshWarper, remap

# Head motion (pixels of the largest face-vertex displacement) at which the still layer has
# fully switched from the photo to the inpainted background.
REVEAL_PX = 1.5
INNER_LIPS = topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER
# Where the mesh closes over a seam (lips, lids), the warp's map is drawn at full resolution.
SEAM_MOUTH = topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER
SEAM_EYE_A = topo.EYE_A_UPPER + topo.EYE_A_LOWER
SEAM_EYE_B = topo.EYE_B_UPPER + topo.EYE_B_LOWER
SEAM_MARGIN = 3  # pixels around them
# Skull points around the mouth whose rigid motion carries the upper teeth: the mouth corners'
# neighbourhood, the philtrum and the nose base.
MOUTH_ANCHORS = [61, 291, 0, 2, 98, 327, 164, 17]


def _inpaint_head(crop: np.ndarray, matte: np.ndarray, body: np.ndarray) -> np.ndarray:
    """The crop with the head region filled from its surroundings (at quarter size: only a thin
    band along the silhouette is ever revealed). Where the still body lies (the neck under the
    jaw), the photo itself is kept: a chin that rises shows the photo's neck, not a smear."""
    import cv2

    s = crop.shape[0]
    small = max(32, s // 4)
    hole = (matte > 0.02).astype(np.uint8) * 255
    hole = cv2.dilate(hole, np.ones((9, 9), np.uint8))
    img = cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA)
    m = cv2.resize(hole, (small, small), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(img, m, 3, cv2.INPAINT_TELEA)
    up = cv2.resize(filled, (s, s), interpolation=cv2.INTER_LINEAR)
    keep = (hole == 0)[..., None]
    filled = np.where(keep, crop, up).astype(np.float32)
    b = np.clip(body, 0, 1)[..., None]
    return np.clip(filled + b * (crop - filled) + 0.5, 0, 255).astype(np.uint8)


class FrameRenderer:
    """The photo warp: renders crop frames for motion blocks, each with what paste-back needs.

    A ``FrameSource`` (``talkcli.render.source``). ``pasted``: frames go to paste-back, so each
    carries the box where it differs from the crop. ``detail``: paste-back adds the photo's
    full-resolution detail (``PasteBack.detail``), so each frame also carries its warp map,
    head coverage and drawn layers in its ``PasteData``.

    ``expression`` (0..1): how much of the photo's own mouth expression is kept
    at rest (1: as photographed; 0: relaxed, lips closed). ``person_matte``:
    an ``(S, S) float32`` matte of the person in the crop (``face.mask.person_matte``);
    None computes it, False turns the layered composite off (the whole crop is warped).
    ``extra_refs``: other photos of the same person as ``(image (H, W, 3) uint8, landmarks
    (478, 2+) in that image's pixels)``, e.g. their own crops; the first that shows teeth
    supplies the mouth's teeth when this crop shows none, and each lends its mouth to frames
    whose mouth shape is closer to its own than to this crop's (``render.refs``). The first
    photo is the one animated.
    """

    def __init__(self, crop: np.ndarray, crop_landmarks: np.ndarray, *, map_scale: float = 0.5,
                 detail: bool = False, pasted: bool = False, device: str = "cpu", expression: float = 1.0,
                 rest_gap: float | None = None,
                 person_matte: np.ndarray | None | bool = None,
                 extra_refs: list[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.crop = np.ascontiguousarray(crop)
        size = crop.shape[0]
        from talkcli.face.glasses import has_glasses

        self.glasses = has_glasses(self.crop, crop_landmarks)
        self.rig = FaceRig.build(crop_landmarks, size, expression=expression, glasses=self.glasses, rest_gap=rest_gap)
        self.eyes = EyeLayer(self.crop, crop_landmarks)
        self.warper = MeshWarper(size, self.rig.triangles, map_scale=map_scale)
        self.teeth_ref = None  # index into extra_refs of the photo the teeth come from
        teeth_source = None
        from talkcli.render.mouth import photo_shows_teeth

        if extra_refs and not photo_shows_teeth(self.crop, crop_landmarks):
            from talkcli.face.align import align_to

            for i, (image, landmarks) in enumerate(extra_refs):
                aligned = align_to(self.crop, crop_landmarks, np.asarray(image), np.asarray(landmarks))
                if photo_shows_teeth(*aligned):
                    teeth_source, self.teeth_ref = aligned, i
                    break
        self.mouth = MouthModel(self.crop, crop_landmarks, teeth_source=teeth_source)
        self.refs = None  # extra photos' mouths as alternative expressions (render.refs)
        if extra_refs:
            from talkcli.render.refs import ExpressionRefs

            self.refs = ExpressionRefs(self.crop, self.rig, extra_refs) or None
        lm = np.asarray(crop_landmarks, np.float64)
        own_teeth = self.mouth.photo_teeth and self.teeth_ref is None
        self._clean_lips = lips_without_teeth(self.crop, lm) if own_teeth else None
        self._lip_box_idx = topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER
        self.detail = detail
        self.pasted = pasted or detail  # frames go to paste-back: each says where it differs from the crop
        self.device = device
        self._torch_remap = None
        if device != "cpu":
            from talkcli.render.device import TorchRemap

            self._torch_remap = TorchRemap(self.crop, device)
        self.matte = None
        self.background = None
        if person_matte is not False:
            from talkcli.face.mask import body_matte, head_matte
            from talkcli.face.mask import person_matte as segment

            person = segment(self.crop) if person_matte is None else np.asarray(person_matte, np.float32)
            if person is None:
                person = np.zeros(self.crop.shape[:2], np.float32)
            self.matte = np.ascontiguousarray(head_matte(person, crop_landmarks))
            self.background = _inpaint_head(self.crop, self.matte, body_matte(person, crop_landmarks))
            # The matte rides along as a fourth channel: one remap warps photo and matte together
            # (a four-channel remap costs what a three-channel one does; a separate float remap
            # of the matte cost as much again).
            self._matte_u8 = np.round(np.clip(self.matte, 0, 1) * 255).astype(np.uint8)
            self._crop_rgba = np.dstack([self.crop, self._matte_u8])

    @property
    def crop_size(self) -> int:
        """Side of the square crop frames, pixels."""
        return self.crop.shape[0]

    def render_crop(self, mouth: np.ndarray, blink: float, head: np.ndarray, gaze: np.ndarray | None = None) -> np.ndarray:
        """One ``(S, S, 3) uint8`` crop frame for one frame's parameters (``render`` without its paste data)."""
        return self.render(mouth, blink, head, gaze).image

    def render(self, mouth: np.ndarray, blink: float, head: np.ndarray, gaze: np.ndarray | None = None) -> CropFrame:
        """One crop frame, ``(S, S, 3) uint8``, with its own paste data, for one frame's parameters.

        ``gaze``: optional ``(2,)`` iris offset in eye widths (x right, y down; 0.05-0.1 is a
        glance), applied inside the eye openings.
        """
        import cv2

        target = self.rig.target(mouth, blink, head)
        n = self.rig.n_face
        gazing = gaze is not None and np.any(np.asarray(gaze) != 0)
        detail = self.detail
        if not np.any(target[:n] != self.rig.source[:n]):
            frame = self.crop.copy()  # at rest the frame is the photo, bit for bit
            paste = PasteData(rest=not gazing)
            if gazing:
                self.eyes.shift_gaze(frame, target, np.asarray(gaze, np.float64))
                changed = self._changed(frame)
                paste = PasteData(changed=changed)
                if detail:
                    ident = self.warper.identity
                    paste = PasteData(changed=changed, map_x=ident[0], map_y=ident[1], layers=self._layers(target, 0.0, 0.0, True))
            return CropFrame(frame, paste)
        map_x, map_y = self.warper.backward_map(target, self.rig.source, self._seam_boxes(target, blink))
        alpha = None
        if self._torch_remap is not None:
            frame = self._torch_remap(map_x, map_y)
        elif self.matte is not None:
            warped = remap(self._crop_rgba, map_x, map_y)
            frame = cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB)
            alpha = warped[..., 3]
        else:
            frame = remap(self.crop, map_x, map_y)
        if blink > 0:
            self.eyes.draw_lids(frame, target, blink, map_x, map_y)
        if gazing:
            self.eyes.shift_gaze(frame, target, np.asarray(gaze, np.float64))
        # The interior fades in over the first pixel and a half that the inner lips move beyond the
        # head's rigid motion: at rest the warp shows the photo's own mouth, bit for bit.
        skull = self.rig.skull_affine(head, MOUTH_ANCHORS)
        inner = self.rig.source[INNER_LIPS]
        rigid_inner = inner @ skull[:, :2].T + skull[:, 2]
        strength = float(np.clip(np.abs(target[INNER_LIPS] - rigid_inner).max() / 1.5, 0.0, 1.0))
        if strength > 0 and self._clean_lips is not None:
            # Lips sample the photo with the tooth specks along their inner edge filled in.
            lips = target[self._lip_box_idx]
            x0, y0 = np.maximum(np.floor(lips.min(axis=0)).astype(int) - 3, 0)
            x1, y1 = np.minimum(np.ceil(lips.max(axis=0)).astype(int) + 4, frame.shape[1::-1])
            clean = remap(self._clean_lips, map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1])
            frame[y0:y1, x0:x1] = cv2.addWeighted(clean, strength, frame[y0:y1, x0:x1], 1 - strength, 0.0)
        if strength > 0:
            chin = self.rig.source[topo.CHIN] @ skull[:, :2].T + skull[:, 2]
            self.mouth.draw(frame, target, skull, target[topo.CHIN] - chin, strength=strength)
        covered = self.refs.blend(frame, target, skull) if self.refs is not None else None
        layers = self._layers(target, strength, blink, gazing, covered) if detail else None
        if self.matte is None:
            return CropFrame(frame, PasteData(changed=self._changed(frame), map_x=map_x, map_y=map_y, layers=layers))
        # Head layer over the still layer. The background behind the head fades in with the
        # head's own (rigid) motion; a moving jaw reveals nothing but the neck, which the still
        # layer keeps as photographed.
        oval = self.rig.source[topo.FACE_OVAL]
        moved = float(np.abs(oval @ skull[:, :2].T + skull[:, 2] - oval).max())
        k = min(1.0, moved / REVEAL_PX)
        if alpha is None:  # the torch path warped the photo alone
            alpha = cv2.remap(self._matte_u8, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        coverage = alpha.astype(np.float32) * np.float32(1 / 255) if detail else None
        from talkcli.render.kernels import composite_head

        composite_head(frame, alpha, self.crop, self.background, int(round(256 * k)))
        return CropFrame(frame, PasteData(changed=self._changed(frame), map_x=map_x, map_y=map_y, alpha=coverage, layers=layers))

    def _changed(self, frame: np.ndarray) -> tuple[int, int, int, int] | None:
        """The box of crop pixels where ``frame`` differs from the photo's crop (paste-back computes
        only there); None when the frame is not pasted."""
        if not self.pasted:
            return None
        from talkcli.render.kernels import changed_box

        return changed_box(frame, self.crop)

    def _seam_boxes(self, target: np.ndarray, blink: float) -> list[tuple[int, int, int, int]]:
        """Boxes around the mouth (and the eyes, while they blink), where the warp's map is
        rasterised at full resolution (``MeshWarper.backward_map``)."""
        boxes = []
        for idx in (SEAM_MOUTH, SEAM_EYE_A, SEAM_EYE_B) if blink > 0 else (SEAM_MOUTH,):
            pts = target[idx]
            x0, y0 = np.floor(pts.min(axis=0)).astype(int) - SEAM_MARGIN
            x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + SEAM_MARGIN + 1
            boxes.append((int(x0), int(y0), int(x1), int(y1)))
        return boxes

    def _layers(self, target: np.ndarray, mouth: float, blink: float, gazing: bool,
                covered: np.ndarray | None = None) -> np.ndarray:
        """``(S, S) float32``: where drawn layers (mouth interior, lids, moved irises, ``covered``:
        another photo's mouth) cover the warp, for paste-back's full-resolution detail to leave alone."""
        import cv2

        size = self.crop.shape[0]
        out = np.zeros((size, size), np.float32)
        polys = []
        if mouth > 0:
            polys.append((np.concatenate([target[topo.LIPS_INNER_UPPER], target[topo.LIPS_INNER_LOWER[::-1]]]), mouth))
        polys += [(p, 1.0) for p in self.eyes.covered(target, blink, gazing)]
        for poly, value in polys:
            cv2.fillPoly(out, [np.round(poly * 4).astype(np.int32)], float(value), lineType=cv2.LINE_AA, shift=2)
        out = cv2.dilate(out, np.ones((5, 5), np.uint8)) if polys else out
        return out if covered is None else np.maximum(out, covered)

    def crops(self, block: MotionBlock) -> Iterator[CropFrame]:
        """The crop frames of one motion block, in order, each with its own paste data."""
        gaze = getattr(block, "gaze", None)  # (n, 2) eye widths, when the motion provides it
        for j in range(block.n):
            yield self.render(block.mouth[j], float(block.blink[j]), block.head[j], None if gaze is None else gaze[j])
