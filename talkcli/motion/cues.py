"""Timed phones -> one mouth class per video frame (the ``talk cues`` output).

The classes are those of ``talkcli.motion.visemes.CLASSES`` (the mouth-timing
benchmark's eight). A frame takes the class that covers most of it, except
that a bilabial closure (p, b, m) covering a third of a frame wins it, and a
closure is held for at least ``min_closure_frames`` frames so that it can be
seen at all. The result is a pure function of the phones, so cues computed
from phones batch by batch equal cues computed in one piece.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Iterable, Sequence

import numpy as np

from talkcli.motion.visemes import CLASSES, phone_class

_INDEX = {c: i for i, c in enumerate(CLASSES)}
CLOSED = _INDEX["closed"]
SILENCE = _INDEX["silence"]


def class_overlaps(phones: Iterable, n_frames: int, fps: float | Fraction) -> np.ndarray:
    """Seconds of each class inside each frame, ``(n_frames, 8) float64``.

    ``phones``: objects with ``name``, ``start_s``, ``end_s``; frame ``i`` covers
    ``[i / fps, (i + 1) / fps)`` seconds.
    """
    fps = float(fps)
    out = np.zeros((n_frames, len(CLASSES)), dtype=np.float64)
    for p in phones:
        a, b = float(p.start_s), float(p.end_s)
        if b <= a:
            continue
        c = _INDEX[phone_class(p.name)]
        i0 = max(0, int(np.floor(a * fps)))
        i1 = min(n_frames - 1, int(np.ceil(b * fps)) - 1)
        for i in range(i0, i1 + 1):
            t0, t1 = i / fps, (i + 1) / fps
            ov = min(t1, b) - max(t0, a)
            if ov > 0:
                out[i, c] += ov
    return out


def frame_classes(phones: Sequence, n_frames: int, fps: float | Fraction, min_closure_frames: int = 2) -> list[str]:
    """Mouth class of every frame (see the module docstring), ``n_frames`` names."""
    frame_s = 1.0 / float(fps)
    ov = class_overlaps(phones, n_frames, fps)
    # Time no phone covers is silence.
    ov[:, SILENCE] += np.maximum(0.0, frame_s - ov.sum(axis=1))
    idx = np.argmax(ov, axis=1)
    idx[ov[:, CLOSED] >= frame_s / 3] = CLOSED
    idx = hold_closures(idx, ov[:, CLOSED], min_closure_frames)
    return [CLASSES[i] for i in idx]


def hold_closures(idx: np.ndarray, closed_s: np.ndarray, min_frames: int) -> np.ndarray:
    """Lengthen closed runs shorter than ``min_frames`` into the neighbour frame holding more closure."""
    idx = idx.copy()
    if min_frames <= 1:
        return idx
    n = len(idx)
    i = 0
    while i < n:
        if idx[i] != CLOSED:
            i += 1
            continue
        j = i
        while j < n and idx[j] == CLOSED:
            j += 1
        while j - i < min_frames and (i > 0 or j < n):
            left = closed_s[i - 1] if i > 0 and idx[i - 1] != CLOSED else -1.0
            right = closed_s[j] if j < n and idx[j] != CLOSED else -1.0
            if left < 0 and right < 0:
                break
            if right >= left:
                idx[j] = CLOSED
                j += 1
            else:
                idx[i - 1] = CLOSED
                i -= 1
        i = j
    return idx


def cues_json(frames: list[str], fps: float | Fraction) -> str:
    """``{"fps": 25, "frames": [...]}`` (the benchmark's prediction format)."""
    f = float(fps)
    return json.dumps({"fps": int(f) if f.is_integer() else f, "frames": frames})


def cues_tsv(frames: list[str], fps: float | Fraction) -> str:
    """One line per change of class: start time in seconds, a tab, the class (as Rhubarb's TSV)."""
    lines = []
    prev = None
    f = float(fps)
    for i, c in enumerate(frames):
        if c != prev:
            lines.append(f"{i / f:.3f}\t{c}")
            prev = c
    lines.append(f"{len(frames) / f:.3f}\tsilence")
    return "\n".join(lines) + "\n"
