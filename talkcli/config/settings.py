"""Frozen per-stage settings and their layering: defaults < preset < flags.

Every value remembers where it came from (``Settings.sources``), so
``talk config show`` and the job manifest can say why a value is what it is.
Presets are TOML files in the top-level ``presets/`` folder; unknown sections
or keys are errors, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from talkcli.errors import ConfigError

DEFAULT_PRESET = "balanced"


@dataclass(frozen=True)
class FaceSettings:
    size: int = 512  # crop side in pixels
    face_index: int | None = None  # None = the largest face
    face_fraction: float = 0.6  # face outline spans this share of the crop side


@dataclass(frozen=True)
class AudioSettings:
    fps: str = "25"  # frames per second: "25", "29.97", "30000/1001"
    frames_per_block: int = 4
    max_chunk_s: float = 12.0  # phone recognition runs on chunks cut at pauses, at most this long
    lang: str = "en"  # en: pocketsphinx phones; others: eSpeak NG + alignment with a transcript, else the acoustic driver

    @property
    def frame_rate(self) -> Fraction:
        """``fps`` as an exact fraction (``talkcli.audio.plan.parse_fps``: the one parser)."""
        from talkcli.audio.plan import parse_fps

        return parse_fps(self.fps)


@dataclass(frozen=True)
class MotionSettings:
    seed: int = 0
    head_motion: float = 1.0  # 0 = still, 1 = natural, 2 = lively
    blink_interval_s: float = 3.5


@dataclass(frozen=True)
class RenderSettings:
    crop_only: bool = False  # write the square crop instead of the full photo
    max_size: int = 1920  # full-frame output: a photo whose long side is larger is downscaled to this, once (0: keep its size)
    device: str = "auto"  # auto | cpu | cuda
    map_scale: float = 0.5  # resolution of the warp's backward map relative to the crop
    expression: float = 1.0  # 1 keeps the photo's expression (smile) at rest, 0 relaxes it
    rest_lips: str = "closed"  # closed: parted lips in the photo close in silence; photo: they stay as photographed


@dataclass(frozen=True)
class MuxSettings:
    crf: int = 20
    x264_preset: str = "veryfast"
    x264_params: str = ""  # more x264 options, key=value:key=value (ffmpeg's -x264-params); "": the preset's own
    x264_threads: int = 0  # 0: one less than the CPU count (at least 1), leaving a core to the renderer
    audio_bitrate: str = "160k"
    ffmpeg: str | None = None


@dataclass(frozen=True)
class EnhanceSettings:
    method: str = "none"  # none | gfpgan (needs the user-supplied GFPGANv1.4.pth)
    strength: float = 0.8  # blend of restored and original face, 0..1
    batch_size: int = 4  # frames per network call
    align: bool = True  # warp each crop onto GFPGAN's training alignment and back


@dataclass(frozen=True)
class ModelsSettings:
    models_dir: str | None = None  # first place to look for user-supplied model files


@dataclass(frozen=True)
class JobSettings:
    segment_s: float = 10.0  # the video is rendered in segments of about this length; a resume redoes at most one


SECTIONS = {
    "face": FaceSettings,
    "audio": AudioSettings,
    "motion": MotionSettings,
    "render": RenderSettings,
    "mux": MuxSettings,
    "enhance": EnhanceSettings,
    "models": ModelsSettings,
    "jobs": JobSettings,
}


@dataclass(frozen=True)
class Settings:
    face: FaceSettings = FaceSettings()
    audio: AudioSettings = AudioSettings()
    motion: MotionSettings = MotionSettings()
    render: RenderSettings = RenderSettings()
    mux: MuxSettings = MuxSettings()
    enhance: EnhanceSettings = EnhanceSettings()
    models: ModelsSettings = ModelsSettings()
    jobs: JobSettings = JobSettings()
    preset: str = DEFAULT_PRESET
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # "face.size" -> "default" | "preset X" | "flag"

    def items(self) -> list[tuple[str, Any, str]]:
        """Every value as (dotted key, value, where it came from)."""
        out = []
        for name in SECTIONS:
            section = getattr(self, name)
            for f in dataclasses.fields(section):
                key = f"{name}.{f.name}"
                out.append((key, getattr(section, f.name), self.sources.get(key, "default")))
        return out

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}


def presets_dir() -> Path:
    """The presets folder: ``TALK_PRESETS``, else ``presets/`` of the checkout or the install
    (``talkcli.data``)."""
    from talkcli.data import data_path

    env = os.environ.get("TALK_PRESETS")
    return Path(env) if env else data_path("presets")


def available_presets() -> list[str]:
    return sorted(p.stem for p in presets_dir().glob("*.toml"))


def _coerce(key: str, value: Any, typ: Any) -> Any:
    """Check a preset/flag value against the field's declared type."""
    allowed = {"int": int, "float": (int, float), "str": str, "bool": bool, "int | None": (int, type(None)), "str | None": (str, type(None))}
    want = allowed.get(str(typ) if not isinstance(typ, str) else typ)
    if want is None:
        return value
    if isinstance(value, bool) and typ not in ("bool",):
        raise ConfigError(f"{key} must be {typ}, got {value!r}", hint="fix the preset or flag value")
    if not isinstance(value, want):
        raise ConfigError(f"{key} must be {typ}, got {value!r}", hint="fix the preset or flag value")
    if typ == "float":
        value = float(value)
    return value


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
MIN_FPS, MAX_FPS = 1, 120  # frames per second a render accepts (the plan itself reads up to 240 for measuring)
MAX_SEED = 2**32 - 1  # numpy's seed range
# ffmpeg's bit rate forms: 160k, 96000, 1.5M (decimal SI suffixes; a number may have a fraction with a suffix).
_BITRATE = re.compile(r"(?:\d+|\d*\.\d+)[kKM]?")


def bitrate_bps(text: str) -> float | None:
    """Bits per second of an ffmpeg bit rate such as ``160k``, ``96000`` or ``1.5M``; None when not of that form."""
    text = text.strip()
    if not _BITRATE.fullmatch(text):
        return None
    scale = {"k": 1e3, "K": 1e3, "M": 1e6}.get(text[-1], 1.0)
    return float(text.rstrip("kKM")) * scale


def _validate(s: Settings) -> None:
    if not 64 <= s.face.size <= 2048 or s.face.size % 2:
        raise ConfigError(f"face.size must be an even number of pixels from 64 to 2048, got {s.face.size}", hint="try --size 512")
    if not 0.2 <= s.face.face_fraction <= 0.9:
        raise ConfigError(f"face.face_fraction must be in 0.2..0.9, got {s.face.face_fraction}")
    if s.face.face_index is not None and s.face.face_index < 0:
        raise ConfigError("--face-index must be 0 or more", hint="0 is the largest face")
    fps = s.audio.frame_rate  # raises ConfigError when it is not a frame rate
    if not MIN_FPS <= fps <= MAX_FPS:
        raise ConfigError(f"--fps must be {MIN_FPS} to {MAX_FPS} frames per second, got {s.audio.fps}", hint="try --fps 25")
    if not 1 <= s.audio.frames_per_block <= 64:
        raise ConfigError("audio.frames_per_block must be 1..64")
    if not s.audio.lang or not s.audio.lang.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"--lang must be a language code such as en or de, got {s.audio.lang!r}")
    if not 2.0 <= s.audio.max_chunk_s <= 60.0:
        raise ConfigError("audio.max_chunk_s must be 2..60 seconds")
    if not 0 <= s.motion.seed <= MAX_SEED:
        raise ConfigError(f"--seed must be 0 to {MAX_SEED} (2**32 - 1), got {s.motion.seed}", hint="e.g. --seed 7")
    if not 0.0 <= s.motion.head_motion <= 2.0:
        raise ConfigError(f"--head-motion must be 0..2, got {s.motion.head_motion}")
    if s.motion.blink_interval_s <= 0.5:
        raise ConfigError("motion.blink_interval_s must be above 0.5 s")
    if s.render.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {s.render.device!r}")
    if s.render.max_size != 0 and not 64 <= s.render.max_size <= 8192:
        raise ConfigError(f"--max-size must be 0 (keep the photo's size) or 64..8192 pixels, got {s.render.max_size}", hint="try --max-size 1920")
    if s.render.rest_lips not in ("closed", "photo"):
        raise ConfigError(f"--rest-lips must be closed or photo, got {s.render.rest_lips!r}")
    if not 0.0 <= s.render.expression <= 1.0:
        raise ConfigError(f"--expression must be 0..1, got {s.render.expression}")
    if not 0.125 <= s.render.map_scale <= 1.0:
        raise ConfigError("render.map_scale must be 0.125..1")
    if s.enhance.method not in ("none", "gfpgan"):
        raise ConfigError(f"--enhance must be none or gfpgan, got {s.enhance.method!r}")
    if not 0.0 <= s.enhance.strength <= 1.0:
        raise ConfigError(f"--enhance-strength must be 0..1, got {s.enhance.strength}")
    if not 1 <= s.enhance.batch_size <= 64:
        raise ConfigError("enhance.batch_size must be 1..64")
    if not 1.0 <= s.jobs.segment_s <= 600.0:
        raise ConfigError("jobs.segment_s must be 1..600 seconds")
    if not 0 <= s.mux.x264_threads <= 64:
        raise ConfigError("mux.x264_threads must be 0 (automatic) to 64")
    if not 0 <= s.mux.crf <= 51:
        raise ConfigError("mux.crf must be 0..51")
    if s.mux.x264_preset not in X264_PRESETS:
        raise ConfigError(f"mux.x264_preset must be one of x264's presets, got {s.mux.x264_preset!r}", hint=", ".join(X264_PRESETS))
    if not re.fullmatch(r"([a-z0-9-]+=[A-Za-z0-9.,_-]+(:[a-z0-9-]+=[A-Za-z0-9.,_-]+)*)?", s.mux.x264_params):
        raise ConfigError(f"mux.x264_params must be x264 options key=value:key=value, got {s.mux.x264_params!r}",
                          hint="e.g. --set mux.x264_params=mbtree=1:rc-lookahead=10")
    bps = bitrate_bps(s.mux.audio_bitrate)
    if bps is None or not 8_000 <= bps <= 10_000_000:  # below 8k is a "160" meant as 160k; ffmpeg clamps high ones
        raise ConfigError(
            f"mux.audio_bitrate must be a bit rate from 8k to 10M bits/s, got {s.mux.audio_bitrate!r}",
            hint="e.g. --set mux.audio_bitrate=160k (forms: 160k, 96000, 1.5M; k = 1000, M = 1000000)",
        )


def read_sections(path: Path, what: str) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from exc
    data.pop("description", None)
    for section, values in data.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise ConfigError(f"{what} {path.name}: unknown section [{section}]", hint=f"sections: {', '.join(SECTIONS)}")
    return data


def load_preset(name: str) -> dict[str, dict[str, Any]]:
    """The sections of preset ``name`` (a name in presets/ or a path to a .toml file)."""
    path = Path(name) if name.endswith(".toml") else presets_dir() / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}", hint=f"available: {', '.join(available_presets()) or 'none found'}")
    return read_sections(path, "preset")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``--set section.key=value``: the value is read as TOML (numbers, true/false, "strings"), else as a bare string."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set expects section.key=value, got {text!r}", hint="e.g. --set mux.crf=23")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def load_settings(
    preset: str | None = None, flags: dict[str, Any] | None = None, job_file: Path | dict | None = None
) -> Settings:
    """Layer defaults < preset < job file < flags.

    ``flags`` maps dotted keys ("face.size") to values (None means unset);
    ``job_file`` is a TOML file of the presets' form, or already-parsed
    sections (a batch job's per-item options).
    """
    name = preset or DEFAULT_PRESET
    layers = [(f"preset {name}", load_preset(name))]
    if job_file is not None:
        if isinstance(job_file, dict):
            layers.append(("job file", job_file))
        else:
            path = Path(job_file)
            if not path.is_file():
                raise ConfigError(f"job file not found: {path}", hint="check the --config path")
            layers.append((f"job file {path.name}", read_sections(path, "job file")))
    flat_flags: dict[str, dict[str, Any]] = {}
    for key, value in (flags or {}).items():
        if value is None:
            continue
        section, _, attr = key.partition(".")
        if section not in SECTIONS or not attr:
            raise ConfigError(f"unknown setting {key}", hint=f"sections: {', '.join(SECTIONS)}")
        flat_flags.setdefault(section, {})[attr] = value
    layers.append(("flag", flat_flags))
    for origin, layer in layers:
        for section in layer:
            if section not in SECTIONS:
                raise ConfigError(f"unknown section [{section}] ({origin})", hint=f"sections: {', '.join(SECTIONS)}")
    sources: dict[str, str] = {}
    built = {}
    for section, cls in SECTIONS.items():
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        values = {}
        for origin, layer in layers:
            for attr, value in layer.get(section, {}).items():
                if attr not in types:
                    raise ConfigError(f"unknown setting {section}.{attr} ({origin})", hint=f"{section} has: {', '.join(types)}")
                if (section, attr) in (("audio", "fps"), ("mux", "audio_bitrate")) and isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = str(value)  # fps = 25 / audio_bitrate = 96000 read as naturally as "30000/1001" / "160k"
                values[attr] = _coerce(f"{section}.{attr}", value, types[attr])
                sources[f"{section}.{attr}"] = origin
        built[section] = cls(**values)
    settings = Settings(**built, preset=name, sources=sources)
    _validate(settings)
    return settings
