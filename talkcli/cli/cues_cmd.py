"""talk cues: the mouth class of every video frame, for animators and for the mouth-timing benchmark."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded, out


class CueFormat(str, Enum):
    json = "json"
    tsv = "tsv"


@app.command()
def cues(
    audio: Path = typer.Argument(..., help="Speech recording (anything ffmpeg reads).", show_default=False),
    transcript: Optional[Path] = typer.Option(None, "--transcript", help="Text of the speech (UTF-8), in its --lang: times the mouth by forced alignment. Other languages than English need the languages extra."),
    fps: Optional[str] = typer.Option(None, "--fps", help="Frames per second, e.g. 25, 29.97 or 30000/1001. [default: 25]"),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the speech (ISO 639: en, es, fr, de, ja, cmn ...). en: English phone models; others: eSpeak NG pronunciations with --transcript, else a language-agnostic acoustic driver. [default: en]"),
    fmt: CueFormat = typer.Option(CueFormat.json, "-f", "--format", help="json: one class per frame; tsv: start time and class at each change."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of standard output."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset, as for render (its audio settings apply)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Job file (TOML), as for render."),
    set_: list[str] = typer.Option([], "--set", help="Any setting, as for render, e.g. --set audio.max_chunk_s=8."),
    ffmpeg: Optional[str] = typer.Option(None, "--ffmpeg", help="ffmpeg binary to use (or set TALK_FFMPEG)."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Mouth shapes per frame: talk cues speech.wav -o cues.json (classes: silence closed labiodental rounded open mid dental other)

    The classes come from the driver talk render uses with the same settings."""
    with guarded(traceback):
        from talkcli.api import cues as audio_cues
        from talkcli.config.settings import load_settings, parse_assignment
        from talkcli.errors import OutputError
        from talkcli.events import Notice
        from talkcli.files import write_bytes_atomic
        from talkcli.motion.cues import cues_json, cues_tsv

        flags = {"audio.fps": fps, "audio.lang": lang, "mux.ffmpeg": ffmpeg} | dict(parse_assignment(t) for t in set_)
        settings = load_settings(preset, flags, job_file=config)

        def on_event(event) -> None:
            if isinstance(event, Notice) and event.level == "warning":
                err.print(f"[yellow]warning:[/] {event.message}", highlight=False)

        frames = audio_cues(audio, transcript, settings, on_event)
        rate = settings.audio.frame_rate
        body = cues_json(frames, rate) + "\n" if fmt == CueFormat.json else cues_tsv(frames, rate)
        if output is None:
            out.file.write(body)
            out.file.flush()
        else:
            try:
                write_bytes_atomic(output, body.encode("utf-8"))
            except OSError as exc:
                raise OutputError(f"cannot write {output}: {exc.strerror}", hint="check the folder exists and is writable") from None
