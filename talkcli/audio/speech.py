"""The speech of a render: decoded, checked and planned into frames (pipeline stage 1, audio)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from talkcli.audio.decode import DecodedAudio
from talkcli.audio.plan import BlockPlan
from talkcli.config.settings import AudioSettings
from talkcli.errors import AudioError, InputError

MAX_AUDIO_S = 10 * 3600  # longer input is refused unless the job allows it


@dataclass(frozen=True)
class Speech:
    """Decoded speech (16 kHz mono float32) and its frame-exact block plan."""

    audio: DecodedAudio
    plan: BlockPlan


def read_speech(path: Path, settings: AudioSettings, ffmpeg: str | None, keep_in: Path, allow_long: bool,
                warn=lambda message: None) -> Speech:
    """Decode ``path`` (samples kept in the folder ``keep_in``) and plan its frames.

    Refuses audio over ``MAX_AUDIO_S`` unless ``allow_long``; ``warn(message)`` hears that
    the audio is silent.
    """
    from talkcli.audio.decode import decode_audio, decoded_is_silent
    from talkcli.audio.plan import plan_blocks

    audio = decode_audio(path, ffmpeg, keep_in=keep_in)
    if audio.duration_s > MAX_AUDIO_S and not allow_long:
        raise AudioError(
            f"{Path(path).name} is {audio.duration_s / 3600:.1f} hours long; the limit is {MAX_AUDIO_S // 3600} hours",
            hint="split it, or pass --allow-long to render it anyway",
        )
    if decoded_is_silent(audio.samples):
        warn(f"{Path(path).name} is silent (below -60 dBFS): the mouth will stay closed")
    plan = plan_blocks(len(audio.samples), audio.sample_rate, settings.frame_rate, settings.frames_per_block)
    return Speech(audio, plan)


def read_transcript(path: Path | None) -> str | None:
    """The text of a transcript file (UTF-8), None for no transcript."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"transcript not found: {path}", hint="check the --transcript path")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"transcript {path} is not UTF-8 text", hint="save it as plain UTF-8 text") from exc
