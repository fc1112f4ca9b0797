"""Mouth track: FaceMesh re-detected on every decoded frame of a video.

The measuring instrument is independent of the renderer: it sees only the
decoded output frames, never the renderer's targets. FaceMesh runs in video
mode (it tracks the face from frame to frame, about 2.5 ms per 256 px frame
on one core) and falls back to a still-image pass on any frame where tracking
finds nothing. Video mode applies no temporal smoothing to the landmarks, so
it adds no lag: a test checks that its track equals the still-image one.

Sizes are normalised by the inter-ocular distance (outer eye corners), which
does not change when the jaw moves, unlike face height.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from talkcli.face import topology as topo

# Inner-lip point pairs facing each other (upper chain, lower chain), around the mouth's centre.
INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
EYE_OUTER_CORNERS = (33, 263)  # inter-ocular distance: the face-size unit of every "_iod" figure
LIP_POINTS = sorted(
    set(topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER + topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER)
)  # the 40 lip landmarks, for the landmark distance (LMD)
# Points that a talking mouth does not move: eye corners, nose ridge, forehead, temples.
STABLE_POINTS = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 10, 151, 9, 8, 127, 356, 234, 454]


class FrameObserver(Protocol):
    """Receives every decoded frame with its landmarks during the tracking pass."""

    def update(self, index: int, frame: np.ndarray, landmarks: np.ndarray | None) -> None: ...


@dataclass
class MouthTrack:
    """Per-frame FaceMesh landmarks of one video.

    ``landmarks`` is ``(N, 478, 2) float32`` in frame pixels, NaN on frames
    where no face was found. Frame ``i`` plays over ``[i / fps, (i + 1) / fps)``
    seconds after the first frame.
    """

    fps: float
    width: int
    height: int
    landmarks: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def detected(self) -> np.ndarray:
        """``(N,) bool``: FaceMesh found a face on the frame."""
        return ~np.isnan(self.landmarks[:, 0, 0])

    @property
    def iod(self) -> np.ndarray:
        """``(N,)`` inter-ocular distance in pixels (NaN where not detected)."""
        a, b = EYE_OUTER_CORNERS
        return np.linalg.norm(self.landmarks[:, a] - self.landmarks[:, b], axis=1)

    @property
    def opening(self) -> np.ndarray:
        """``(N,)`` inner-lip opening (mean gap of the three central inner-lip pairs) / inter-ocular distance."""
        gaps = [np.linalg.norm(self.landmarks[:, u] - self.landmarks[:, d], axis=1) for u, d in INNER_LIP_PAIRS]
        return np.mean(gaps, axis=0) / self.iod

    @property
    def mouth_width(self) -> np.ndarray:
        """``(N,)`` distance between the mouth corners / inter-ocular distance."""
        a, b = topo.MOUTH_CORNERS
        return np.linalg.norm(self.landmarks[:, a] - self.landmarks[:, b], axis=1) / self.iod

    def times(self) -> np.ndarray:
        """``(N,)`` start time of each frame, seconds from the first frame."""
        return np.arange(self.n_frames) / self.fps


def opening_of(landmarks: np.ndarray) -> float:
    """Inner-lip opening / inter-ocular distance of one ``(478, 2|3)`` landmark set."""
    lm = np.asarray(landmarks)[:, :2]
    iod = np.linalg.norm(lm[EYE_OUTER_CORNERS[0]] - lm[EYE_OUTER_CORNERS[1]])
    return float(np.mean([np.linalg.norm(lm[u] - lm[d]) for u, d in INNER_LIP_PAIRS]) / iod)


@contextlib.contextmanager
def _quiet():
    # mediapipe writes absl/TFLite lines to fd 2 when a graph starts; silence only
    # that moment, not every frame, so a progress display on stderr keeps drawing.
    from talkcli.face.detect import _quiet_native_logs

    with _quiet_native_logs():
        yield


class VideoMesh:
    """FaceMesh (478 landmarks, refined lips) over consecutive frames of one video."""

    def __init__(self) -> None:
        with _quiet():
            import mediapipe as mp

            self._mp = mp
            self._video = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=0.5, min_tracking_confidence=0.5,
            )  # fmt: skip
        self._still = None
        self._first = True

    def _run(self, mesh, rgb: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        if self._first:
            with _quiet():
                result = mesh.process(rgb)
            self._first = False
        else:
            result = mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        pts = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * w, p.y * h) for p in pts], dtype=np.float32)

    def landmarks(self, rgb: np.ndarray) -> np.ndarray | None:
        """``(478, 2) float32`` pixels, or None when neither tracking nor a still-image pass finds a face."""
        rgb = np.ascontiguousarray(rgb)
        found = self._run(self._video, rgb)
        if found is None:
            if self._still is None:
                with _quiet():
                    self._still = self._mp.solutions.face_mesh.FaceMesh(
                        static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
                    )
            found = self._run(self._still, rgb)
        return found

    def close(self) -> None:
        self._video.close()
        if self._still is not None:
            self._still.close()

    def __enter__(self) -> VideoMesh:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def still_opening(rgb: np.ndarray, frames: int = 8) -> float | None:
    """The opening a video's tracker reads on ``rgb`` held still: the median over ``frames``
    tracked copies of the image (None when no face is found).

    The reference photo's rest opening is measured this way rather than with the renderer's
    detector, so that it compares like with like: on the same open mouth the two read up to
    0.03 inter-ocular distances apart, and the tracker spreads by about as much over a frozen
    frame."""
    rgb = np.ascontiguousarray(rgb)
    with VideoMesh() as mesh:
        found = [mesh.landmarks(rgb) for _ in range(frames)]
    values = [opening_of(lm) for lm in found if lm is not None]
    return float(np.median(values)) if values else None


def track_frames(
    frames: Iterable[np.ndarray],
    fps: float,
    observers: Iterable[FrameObserver] = (),
    progress: Callable[[int], None] | None = None,
) -> MouthTrack:
    """Run FaceMesh on ``frames`` (``(H, W, 3) uint8`` RGB, in order) and hand each to ``observers``.

    ``progress`` is called with the number of frames done, every 25 frames.
    """
    observers = list(observers)
    rows: list[np.ndarray] = []
    nan = None
    width = height = 0
    with VideoMesh() as mesh:
        for index, frame in enumerate(frames):
            height, width = frame.shape[:2]
            lm = mesh.landmarks(frame)
            for obs in observers:
                obs.update(index, frame, lm)
            if lm is None:
                nan = nan if nan is not None else np.full((topo.N_LANDMARKS, 2), np.nan, dtype=np.float32)
                rows.append(nan)
            else:
                rows.append(lm)
            if progress is not None and (index + 1) % 25 == 0:
                progress(index + 1)
    landmarks = np.stack(rows) if rows else np.zeros((0, topo.N_LANDMARKS, 2), dtype=np.float32)
    if progress is not None:
        progress(len(rows))
    return MouthTrack(fps=float(fps), width=width, height=height, landmarks=landmarks)


def track_video(
    path: Path,
    fps: float,
    observers: Iterable[FrameObserver] = (),
    progress: Callable[[int], None] | None = None,
    ffmpeg: str | None = None,
) -> MouthTrack:
    """The mouth track of the first video stream of ``path`` (decoded through ``talkcli.mux.ffmpeg``)."""
    from talkcli.mux.ffmpeg import read_frames

    return track_frames(read_frames(path, ffmpeg), fps, observers, progress)


def grab_frames(path: Path, indices: Iterable[int], ffmpeg: str | None = None) -> dict[int, np.ndarray]:
    """Decoded frames ``{index: (H, W, 3) uint8}`` at ``indices``; stops decoding after the last one."""
    from talkcli.mux.ffmpeg import read_frames

    wanted = {int(i) for i in indices}
    out: dict[int, np.ndarray] = {}
    if not wanted:
        return out
    last = max(wanted)
    frames = read_frames(path, ffmpeg)
    try:
        for index, frame in enumerate(frames):
            if index in wanted:
                out[index] = frame.copy()
            if index >= last:
                break
    finally:
        frames.close()
    return out


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping ``src`` to ``dst`` (Umeyama).

    ``src``, ``dst``: ``(K, 2)`` points. Returns a ``(2, 3)`` affine matrix.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (s**2).sum() / len(src)
    scale = (sig * np.diag(sign)).sum() / var if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def apply_transform(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``(K, 2)`` points through a ``(2, 3)`` affine matrix."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]
