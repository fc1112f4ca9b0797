"""Phoneme ground truth: are the lips measured closed on every p, b and m?

The truth file is the format of the mouth-timing benchmark (``bench/visemes``
in the developers' shared folder): JSON with ``segments`` (or ``phonemes``),
each ``{"phoneme", "start_s", "end_s"}`` in seconds from the start of the
audio, and ``phoneme_set`` ``"espeak"`` (the default) or ``"arpabet"``.
A bare list of segments is accepted too.

Every maximal run of bilabial segments (adjacent ones merged) is one closure
event ``[s, e]``. It counts as met when some frame overlapping ``[s, e]``,
widened by one frame on each side, has its lips measured closed: an inner-lip
opening at most ``CLOSED_OPENING`` inter-ocular distances (about 3.5 mm on an
adult face). This is the benchmark's "recall within +-1 frame", measured on
the picture instead of on predicted labels.

Spurious closures follow the benchmark's scorer too: a run of consecutive
closed frames that overlaps no event's widened frame range is spurious. The
scorer counts runs of predicted "closed" labels, which never cover a pause
(pauses are labelled "silence"); on the picture the lips also close to rest in
pauses and before the first and after the last sound, so a closed run counts
only when it lies wholly inside speech (every frame's centre falls in a
non-silence phoneme) and touches neither end of the video. Per minute, over
the frames with a face.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkcli.errors import InputError

CLOSED_OPENING = 0.04  # inner-lip opening / inter-ocular distance at or below which the lips are closed
# The bilabials (lips pressed together) of each phoneme set; copied from the
# benchmark's viseme_map.json ("closed" class) so nothing here depends on it.
BILABIALS = {"espeak": frozenset({"p", "b", "m", "m-"}), "arpabet": frozenset({"P", "B", "M"})}
_ARPABET_SILENCE = frozenset({"SIL", "SP", "SPN", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+NOISE+", "+SMACK+", "+UH+", "+UM+"})


@dataclass(frozen=True)
class Segment:
    phoneme: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Truth:
    """Timed phonemes of the soundtrack; times in seconds from the audio's first sample."""

    phoneme_set: str
    segments: list[Segment]

    def is_silence(self, phoneme: str) -> bool:
        if self.phoneme_set == "arpabet":
            return phoneme.upper() in _ARPABET_SILENCE
        return phoneme.startswith("_")

    def closures(self) -> list[tuple[float, float]]:
        """Closure events ``(start_s, end_s)``: runs of adjacent bilabial segments."""
        bilabial = BILABIALS[self.phoneme_set]
        events: list[tuple[float, float]] = []
        for seg in sorted(self.segments, key=lambda s: s.start_s):
            if seg.phoneme not in bilabial or seg.end_s <= seg.start_s:
                continue
            if events and abs(events[-1][1] - seg.start_s) < 1e-6:
                events[-1] = (events[-1][0], seg.end_s)
            else:
                events.append((seg.start_s, seg.end_s))
        return events

    def speech_frames(self, n_frames: int, fps: float, audio_start_s: float = 0.0) -> np.ndarray:
        """``(n_frames,) bool``: a non-silence phoneme overlaps the frame's interval."""
        speech = np.zeros(n_frames, dtype=bool)
        for seg in self.segments:
            if self.is_silence(seg.phoneme):
                continue
            lo, hi = _frames_overlapping(seg.start_s + audio_start_s, seg.end_s + audio_start_s, fps)
            speech[max(0, lo) : max(0, min(n_frames, hi + 1))] = True
        return speech

    def speech_at_centres(self, n_frames: int, fps: float, audio_start_s: float = 0.0) -> np.ndarray:
        """``(n_frames,) bool``: the phoneme at the frame's centre is not silence (how the benchmark samples frames)."""
        centres = (np.arange(n_frames) + 0.5) / fps - audio_start_s
        speech = np.zeros(n_frames, dtype=bool)
        for seg in self.segments:
            if not self.is_silence(seg.phoneme):
                speech |= (centres >= seg.start_s) & (centres < seg.end_s)
        return speech


def load_truth(path: Path) -> Truth:
    """Read a phoneme ground-truth JSON file; raises ``InputError`` when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"phoneme truth file not found: {path}", hint="pass a JSON file with timed phonemes (--truth)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not JSON: {exc}", hint="the truth file is JSON with a 'segments' list") from exc
    raw = data if isinstance(data, list) else data.get("segments", data.get("phonemes")) if isinstance(data, dict) else None
    phoneme_set = (data.get("phoneme_set") if isinstance(data, dict) else None) or "espeak"
    if phoneme_set not in BILABIALS:
        raise InputError(f"{path}: unknown phoneme_set {phoneme_set!r}", hint="use 'espeak' or 'arpabet'")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{path} has no phoneme segments", hint="expected {\"segments\": [{\"phoneme\", \"start_s\", \"end_s\"}, ...]}")
    try:
        segments = [Segment(str(s["phoneme"]), float(s["start_s"]), float(s["end_s"])) for s in raw]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: a segment lacks phoneme/start_s/end_s ({exc})", hint="each segment needs phoneme, start_s and end_s") from exc
    return Truth(phoneme_set, segments)


def _frames_overlapping(s: float, e: float, fps: float) -> tuple[int, int]:
    """Inclusive range of frames whose interval ``[i / fps, (i + 1) / fps)`` overlaps ``[s, e]``."""
    return int(math.floor(s * fps + 1e-9)), int(math.ceil(e * fps - 1e-9)) - 1


@dataclass(frozen=True)
class ClosureResult:
    events: int
    closed: int
    undetected: int  # events whose frames had no face, left out of the fraction
    timing_ms: list[float]  # per met event: centre of the nearest closed run minus the event's centre
    spurious: int = 0  # closed runs inside speech that overlap no event's widened frame range
    measured_s: float = 0.0  # seconds of frames with a face (the spurious rate's denominator)

    @property
    def fraction(self) -> float | None:
        scored = self.events - self.undetected
        return self.closed / scored if scored else None

    @property
    def spurious_per_min(self) -> float | None:
        return 60.0 * self.spurious / self.measured_s if self.measured_s > 0 else None


def closure_check(
    truth: Truth,
    opening: np.ndarray,
    fps: float,
    audio_start_s: float = 0.0,
    tolerance_frames: int = 1,
    closed_opening: float = CLOSED_OPENING,
) -> ClosureResult:
    """Score closure events against a measured opening track ``(N,)`` (NaN where no face).

    ``audio_start_s`` is when the audio's first sample plays, in seconds after the first frame;
    ``closed_opening`` (inter-ocular distances) is where closed lips end, for sensitivity checks.
    """
    opening = np.asarray(opening, dtype=np.float64)
    n = len(opening)
    closed = opening <= closed_opening  # NaN compares False
    runs = _runs(closed)
    events = truth.closures()
    hits, undetected, timing = 0, 0, []
    windows = []
    for s, e in events:
        s, e = s + audio_start_s, e + audio_start_s
        lo, hi = _frames_overlapping(s, e, fps)
        lo, hi = max(0, lo - tolerance_frames), min(n - 1, hi + tolerance_frames)
        windows.append((lo, hi))
        if hi < lo:
            undetected += 1
            continue
        window = slice(lo, hi + 1)
        if np.all(np.isnan(opening[window])):
            undetected += 1
            continue
        if closed[window].any():
            hits += 1
            centre = 0.5 * (s + e)
            near = [(a, b) for a, b in runs if a <= hi and b - 1 >= lo]
            a, b = min(near, key=lambda r: abs(0.5 * (r[0] + r[1]) / fps - centre))
            timing.append(1000.0 * (0.5 * (a + b) / fps - centre))
    speech = truth.speech_at_centres(n, fps, audio_start_s)
    spurious = sum(
        1
        for a, b in runs
        if 0 < a and b < n and speech[a:b].all() and not any(a <= hi and b - 1 >= lo for lo, hi in windows)
    )
    measured_s = float(np.count_nonzero(~np.isnan(opening))) / fps
    return ClosureResult(len(events), hits, undetected, timing, spurious, measured_s)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges where ``flags`` is True."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))
