"""talk cues: the mouth class of every video frame, for animators and for the mouth-timing benchmark."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, guarded, out


class CueFormat(str, Enum):
    json = "json"
    tsv = "tsv"


@app.command()
def cues(
    audio: Path = typer.Argument(..., help="Speech recording (anything ffmpeg reads).", show_default=False),
    transcript: Optional[Path] = typer.Option(None, "--transcript", help="Text of the speech; improves mouth timing."),
    fps: str = typer.Option("25", "--fps", help="Frames per second, e.g. 25, 29.97 or 30000/1001."),
    lang: str = typer.Option("en", "--lang", help="Language of the speech: en uses English phone models; any other code (de, fr, ...) uses the language-agnostic acoustic driver."),
    fmt: CueFormat = typer.Option(CueFormat.json, "-f", "--format", help="json: one class per frame; tsv: start time and class at each change."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of standard output."),
    ffmpeg: Optional[str] = typer.Option(None, "--ffmpeg", help="ffmpeg binary to use (or set TALK_FFMPEG)."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Mouth shapes per frame: talk cues speech.wav -o cues.json (classes: silence closed labiodental rounded open mid dental other)"""
    with guarded(traceback):
        from talkcli.audio.decode import decode_audio
        from talkcli.audio.plan import parse_fps
        from talkcli.errors import InputError, OutputError
        from talkcli.files import write_bytes_atomic
        from talkcli.motion.cues import audio_cues, cues_json, cues_tsv

        rate = parse_fps(fps)
        text = None
        if transcript is not None:
            try:
                text = transcript.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise InputError(f"transcript not found: {transcript}", hint="check the --transcript path") from None
            except UnicodeDecodeError:
                raise InputError(f"transcript {transcript} is not UTF-8 text", hint="save it as plain UTF-8 text") from None
        decoded = decode_audio(audio, ffmpeg)
        frames = audio_cues(decoded.samples, rate, text, lang=lang)
        body = cues_json(frames, rate) + "\n" if fmt == CueFormat.json else cues_tsv(frames, rate)
        if output is None:
            out.file.write(body)
            out.file.flush()
        else:
            try:
                write_bytes_atomic(output, body.encode("utf-8"))
            except OSError as exc:
                raise OutputError(f"cannot write {output}: {exc.strerror}", hint="check the folder exists and is writable") from None
