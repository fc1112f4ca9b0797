"""What a render is given, what it gives back, and the models renders share.

The facade's value types live here, below everything that uses them, so calls
run one way: ``api.render -> jobs.runner -> pipeline stages``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RenderJob:
    """What to render: the inputs and where the MP4 goes."""

    ref: Path
    audio: Path
    out: Path
    transcript: Path | None = None
    overwrite: bool = False
    extra_refs: tuple[Path, ...] = ()  # up to two more photos of the same person (teeth, mouth interior)
    job_dir: Path | None = None  # None: a hidden folder beside the output (talkcli.jobs.paths)
    fresh: bool = False  # discard an existing job directory instead of resuming it
    allow_long: bool = False  # render audio longer than 10 hours
    ray_address: str | None = None  # render the segments on a Ray cluster: local, auto or ray://host:port


@dataclass(frozen=True)
class RenderResult:
    """What a render produced and how long it took.

    ``stage_ms_per_frame`` holds wall milliseconds per output frame for each
    stage of the frame loop (phones, motion, render, enhance, encode, join), over the
    frames rendered in this run (a resumed job counts only its new frames);
    ``time_to_first_frame_s`` runs from the audio being decoded to the first
    frame handed to ffmpeg.
    """

    output: Path
    n_frames: int
    fps: float
    width: int
    height: int
    audio_duration_s: float
    device: str
    seconds: float
    time_to_first_frame_s: float
    setup_seconds: dict[str, float] = field(default_factory=dict)
    stage_ms_per_frame: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    n_faces: int = 1
    aligned: bool = False
    job_dir: Path | None = None
    resumed_segments: int = 0  # segments found finished in the job directory and not redone

    @property
    def render_fps(self) -> float:
        """Frames per second of the frame loop (phones to encoder)."""
        total_ms = sum(self.stage_ms_per_frame.values())
        return 1000.0 / total_ms if total_ms > 0 else 0.0


class Models:
    """Models that load once and serve many renders (``talk batch``, ``talk eval``)."""

    def __init__(self) -> None:
        self._landmarker = None
        self._recognizer = None

    @property
    def landmarker(self):
        """The FaceMesh landmarker (``talkcli.face.detect.FaceLandmarker``), loaded on first use."""
        if self._landmarker is None:
            from talkcli.face.detect import FaceLandmarker

            self._landmarker = FaceLandmarker()
        return self._landmarker

    @property
    def recognizer(self):
        """pocketsphinx's phone recogniser and aligner (``talkcli.audio.phonemes.PhoneRecognizer``), loaded on first use."""
        if self._recognizer is None:
            from talkcli.audio.phonemes import PhoneRecognizer

            self._recognizer = PhoneRecognizer()
        return self._recognizer
