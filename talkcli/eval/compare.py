"""Agreement of two mouth tracks over the same speech: our avatar against a real speaker.

- Pearson r of the two inner-lip opening tracks, frame by frame (0 when
  either mouth does not move), and the lag that maximises it (> 0: our mouth
  moves later than the real one).
- LMD, the mouth landmark distance of talking-head papers: per frame, our
  face is aligned onto the real one by a similarity transform fitted on
  landmarks speech does not move, then the mean distance over the 40 lip
  landmarks is divided by the real face's inter-ocular distance. For scale,
  ``lmd_still_baseline_iod`` is the LMD of the real speaker's own first frame
  held still: a renderer that beats it moves the lips the right way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.eval.sync import MIN_STD, best_lag, pearson
from talkcli.eval.track import (
    LIP_POINTS,
    STABLE_POINTS,
    MouthTrack,
    apply_transform,
    similarity_transform,
)


@dataclass(frozen=True)
class Agreement:
    mouth_r: float
    mouth_lag_ms: float
    mouth_r_at_lag: float
    lmd_iod: float | None
    lmd_still_baseline_iod: float | None
    frames_compared: int


def resample_track(track: MouthTrack, times_s: np.ndarray, shift_s: float = 0.0) -> np.ndarray:
    """Landmarks ``(len(times_s), 478, 2)`` of the frame on screen at each time (NaN outside).

    ``shift_s`` is added to the track's own frame times first.
    """
    idx = np.floor((np.asarray(times_s) - shift_s) * track.fps + 1e-6).astype(np.int64)
    out = np.full((len(idx), *track.landmarks.shape[1:]), np.nan, dtype=np.float32)
    ok = (idx >= 0) & (idx < track.n_frames)
    out[ok] = track.landmarks[idx[ok]]
    return out


def compare_tracks(ours: MouthTrack, real: MouthTrack, real_shift_s: float = 0.0) -> Agreement:
    """Compare ``ours`` with ``real`` on ``ours``' frame times.

    ``real_shift_s``: where the real track's first frame sits on ``ours``'
    timeline (both timelines anchored to the same soundtrack).
    """
    times = ours.times()
    real_lm = resample_track(real, times, real_shift_s)
    real_on = MouthTrack(ours.fps, real.width, real.height, real_lm)
    a, b = real_on.opening, ours.opening
    valid = np.isfinite(a) & np.isfinite(b)
    moving = valid.sum() >= 3 and np.std(a[valid]) >= MIN_STD and np.std(b[valid]) >= MIN_STD
    r = pearson(a[valid], b[valid]) if moving else 0.0
    lag_ms, r_lag = best_lag(np.nan_to_num(a), np.nan_to_num(b), valid, ours.fps) if moving else (0.0, 0.0)
    lmd = _lmd(ours.landmarks[valid], real_lm[valid])
    first = np.flatnonzero(real.detected)
    still = None
    if len(first):
        held = np.repeat(real.landmarks[first[0]][None], int(valid.sum()), axis=0)
        still = _lmd(held, real_lm[valid])
    return Agreement(r, lag_ms, r_lag, lmd, still, int(valid.sum()))


def _lmd(ours: np.ndarray, real: np.ndarray) -> float | None:
    """Mean over frames of the mean lip-landmark distance after similarity alignment, / real inter-ocular distance."""
    if len(ours) == 0:
        return None
    values = []
    for o, r in zip(ours, real, strict=True):
        m = similarity_transform(o[STABLE_POINTS], r[STABLE_POINTS])
        lips = apply_transform(m, o[LIP_POINTS])
        iod = np.linalg.norm(r[33] - r[263])
        values.append(np.mean(np.linalg.norm(lips - r[LIP_POINTS], axis=1)) / iod)
    return float(np.mean(values))
