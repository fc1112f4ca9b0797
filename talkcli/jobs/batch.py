"""Batches: many renders, models loaded once, each item isolated from the others' failures.

Inputs come in three forms: a folder of audio files with one photo; a CSV or
JSON-lines job list (ref, audio, out, per-item options); or a folder of
audio files paired with a folder of photos by file stem.
"""

from __future__ import annotations

import csv
import json
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from talkcli.files import same_file
from talkcli.job import Models, RenderJob
from talkcli.config.settings import SECTIONS
from talkcli.errors import InputError, TalkError, UsageError
from talkcli.events import Event

AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".wma", ".mp4", ".mkv", ".mov", ".webm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
ITEM_KEYS = {"ref", "audio", "out", "transcript"}


@dataclass
class BatchItem:
    """One render of a batch; ``options`` are settings sections layered as a job file."""

    name: str
    ref: Path
    audio: Path
    out: Path
    transcript: Path | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "pending"  # pending | queued | running | done | skipped | failed
    message: str = ""
    frames_done: int = 0
    frames_total: int = 0
    worker: str = ""  # where the item renders, with --ray: "host:pid"


def _options(row: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Per-item settings from a job list row: keys like "mux.crf" (values kept as typed in JSON; CSV text parsed as TOML)."""
    import tomllib

    out: dict[str, dict[str, Any]] = {}
    for key, value in row.items():
        if key in ITEM_KEYS or value in (None, ""):
            continue
        section, _, attr = key.partition(".")
        if section not in SECTIONS or not attr:
            raise UsageError(f"{where}: unknown column {key!r}", hint="columns: ref, audio, out, transcript, or settings like mux.crf")
        if isinstance(value, str):
            try:
                value = tomllib.loads(f"v = {value}")["v"]
            except tomllib.TOMLDecodeError:
                pass
        out.setdefault(section, {})[attr] = value
    return out


def _read_rows(source: Path) -> list[Any]:
    """The rows of a .csv or .jsonl job list, as read (validated by ``_check_row``)."""
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise UsageError(f"unknown job list format: {source.name}", hint="use .csv or .jsonl, or a folder of audio files")
    try:
        text = source.read_text(encoding="utf-8-sig")  # a BOM from a spreadsheet export is not part of the first column
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{source.name} is not a UTF-8 text job list (byte {exc.start} cannot be decoded)",
            hint="save the job list as UTF-8 text (CSV or JSON lines)",
        ) from None
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        try:
            return list(reader)
        except csv.Error as exc:
            raise UsageError(f"{source.name} line {reader.line_num} is not valid CSV: {exc}", hint="save the job list as plain CSV text") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UsageError(f"{source.name} line {n} is not JSON: {exc.msg}", hint="one JSON object per line") from exc
    return rows


def _check_row(row: Any, where: str) -> dict[str, Any]:
    """A job list row as a dict whose item keys (ref, audio, out, transcript, name) hold text; UsageError otherwise."""
    if not isinstance(row, dict):
        raise UsageError(
            f"{where} is a JSON {type(row).__name__}, not an object",
            hint='write each line as an object: {"ref": "face.jpg", "audio": "a.wav", "out": "a.mp4"}',
        )
    if None in row:  # csv.DictReader keeps cells past the header's columns under None
        raise UsageError(
            f"{where} has {len(row[None])} more cell(s) than the header's {len(row) - 1} columns",
            hint="quote cells that hold commas, or add the missing column names to the header",
        )
    for key in (*sorted(ITEM_KEYS), "name"):
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            shown = json.dumps(value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise UsageError(f"{where}: {key} must be a text path, got {shown}", hint=f'quote it: "{key}": "..."')
        if value is not None and "\0" in value:
            raise UsageError(f"{where}: {key} holds a NUL byte", hint="the job list may be binary or corrupt; save it as plain text")
    return row


def _check_outputs(items: list[BatchItem], source: Path) -> None:
    """Refuse a batch in which two items write one file, or an item writes over its own input."""
    seen: dict[Path, BatchItem] = {}
    for item in items:
        if item.status == "failed":  # never renders, writes nothing
            continue
        out = item.out.resolve()
        for kind, path in (("audio", item.audio), ("photo", item.ref)):
            if same_file(path, out):
                raise UsageError(
                    f"{source.name}: item {item.name} would write its output over its own {kind} {path}",
                    hint="give the item another output path, or -o another folder",
                )
        other = seen.get(out)
        if other is not None:
            raise UsageError(
                f"{source.name}: items {other.name} ({other.audio.name}) and {item.name} ({item.audio.name}) would both write {item.out}",
                hint="use a .csv or .jsonl job list with an explicit out for each item, or rename one of the inputs",
            )
        seen[out] = item


def plan_batch(source: Path, ref: Path | None, refs_dir: Path | None, out_dir: Path | None) -> list[BatchItem]:
    """The items of a batch, in a stable order.

    Raises ``UsageError`` for a job list that cannot be read (not UTF-8, bad CSV
    or JSON, a row that is not an object, extra CSV cells, a path that is not
    text), and when two items would write the same output or an item would
    write over its own input. In a folder, an audio file that is another
    file's output (clip.mp4 beside clip.wav, from an earlier run) is not an item.
    """
    source = Path(source)
    if not source.exists():
        raise InputError(f"batch source not found: {source}", hint="give a folder of audio files or a .csv/.jsonl job list")
    items: list[BatchItem] = []
    if source.is_file():
        base = source.parent
        rows = _read_rows(source)
        for n, row in enumerate(rows, 1):
            where = f"{source.name} item {n}"
            row = _check_row(row, where)
            missing = [k for k in ("audio",) if not row.get(k)]
            if missing or not (row.get("ref") or ref):
                raise UsageError(f"{where}: needs audio and ref", hint="or pass --ref for all items")
            audio = base / row["audio"]
            out = base / row["out"] if row.get("out") else (out_dir or base) / f"{Path(row['audio']).stem}.mp4"
            items.append(BatchItem(
                name=row.get("name") or Path(row["audio"]).stem,
                ref=base / row["ref"] if row.get("ref") else Path(ref),
                audio=audio, out=out,
                transcript=base / row["transcript"] if row.get("transcript") else None,
                options=_options({k: v for k, v in row.items() if k != "name"}, where),
            ))  # fmt: skip
        _check_outputs(items, source)
        return items
    audios = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    out_dir = Path(out_dir) if out_dir else source
    outputs = {(out_dir / f"{a.stem}.mp4").resolve() for a in audios if a.suffix.lower() != ".mp4"}
    audios = [a for a in audios if a.resolve() not in outputs]  # an earlier run's clip.mp4 beside clip.wav
    if not audios:
        raise InputError(f"no audio files in {source}", hint=f"expected files ending in {', '.join(sorted(AUDIO_SUFFIXES))}")
    photos = {}
    if refs_dir is not None:
        photos = {p.stem: p for p in sorted(Path(refs_dir).iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    elif ref is None:
        raise UsageError("a folder of audio files needs --ref PHOTO or --refs FOLDER")
    for audio in audios:
        photo = photos.get(audio.stem) if refs_dir is not None else Path(ref)
        item = BatchItem(name=audio.stem, ref=photo or Path(refs_dir or ".") / f"{audio.stem}.*", audio=audio, out=out_dir / f"{audio.stem}.mp4")
        transcript = audio.with_suffix(".txt")
        if transcript.is_file():
            item.transcript = transcript
        if photo is None:
            item.status, item.message = "failed", f"no photo named {audio.stem}.* in {refs_dir}"
        items.append(item)
    _check_outputs(items, source)
    return items


def already_done(item: BatchItem) -> bool:
    """The output exists and its job's manifest says this very file was delivered."""
    from talkcli.jobs.manifest import Manifest
    from talkcli.files import sha256_file
    from talkcli.jobs.paths import default_job_dir, input_hashes

    if not item.out.is_file():
        return False
    try:
        job_dir = default_job_dir(item.out, input_hashes(item.ref, item.audio, item.transcript))  # batch items have one photo
        manifest = Manifest.load(job_dir)
    except (OSError, TalkError):
        return False
    return bool(manifest and manifest.status == "complete" and manifest.output_sha256 == sha256_file(item.out))


def _render_item(item: BatchItem, preset, flags, job_file, overwrite: bool, on_event, models) -> str:
    from talkcli.config.settings import load_settings
    from talkcli.jobs.runner import run_job

    layered: dict[str, dict[str, Any]] = {}
    if job_file is not None:
        from talkcli.config.settings import read_sections

        layered = read_sections(Path(job_file), "job file")
    for section, values in item.options.items():
        layered.setdefault(section, {}).update(values)
    settings = load_settings(preset, flags, job_file=layered or None)
    job = RenderJob(ref=item.ref, audio=item.audio, out=item.out, transcript=item.transcript, overwrite=overwrite)
    result = run_job(job, settings, on_event, models)
    return f"{result.n_frames} frames in {result.seconds:.1f} s"


# -- worker processes -------------------------------------------------------------

_worker_models = None


def _worker_init() -> None:
    global _worker_models
    _worker_models = Models()


def _attempt(index: int, item: BatchItem, preset, flags, job_file, overwrite: bool, on_event, models) -> tuple[int, str, str]:
    """Render one item in isolation: (index, "done" | "failed", message); only Ctrl-C escapes."""
    try:
        return index, "done", _render_item(item, preset, flags, job_file, overwrite, on_event, models)
    except TalkError as exc:
        return index, "failed", exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    except Exception as exc:  # a bug in one render must not stop the batch
        return index, "failed", f"unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"


def _worker_run(index: int, item: BatchItem, preset, flags, job_file, overwrite: bool, queue) -> tuple[int, str, str]:
    return _attempt(index, item, preset, flags, job_file, overwrite, lambda event: queue.put((index, event)), _worker_models)


def skip_delivered(items: list[BatchItem], overwrite: bool, on_item: Callable[[int, BatchItem], None]) -> None:
    """Mark "skipped" the pending items whose output a finished job delivered (unless ``overwrite``)."""
    for i, item in enumerate(items):
        if item.status == "pending" and not overwrite and already_done(item):
            item.status, item.message = "skipped", "already rendered"
            on_item(i, item)


def run_batch(
    items: list[BatchItem],
    *,
    preset: str | None,
    flags: dict[str, Any],
    job_file: Path | None,
    overwrite: bool,
    workers: int,
    on_item: Callable[[int, BatchItem], None],
    on_event: Callable[[int, Event], None],
) -> list[BatchItem]:
    """Render every pending item; ``on_item`` hears status changes, ``on_event`` render events."""
    skip_delivered(items, overwrite, on_item)
    todo = [i for i, item in enumerate(items) if item.status == "pending"]
    if workers <= 1:
        models = Models()
        for i in todo:
            items[i].status = "running"
            on_item(i, items[i])
            _, status, message = _attempt(i, items[i], preset, flags, job_file, overwrite, lambda e, i=i: on_event(i, e), models)
            items[i].status, items[i].message = status, message
            on_item(i, items[i])
        return items
    import multiprocessing

    with multiprocessing.Manager() as manager:
        queue = manager.Queue()
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {}
            for i in todo:
                items[i].status = "queued"
                on_item(i, items[i])
                futures[pool.submit(_worker_run, i, items[i], preset, flags, job_file, overwrite, queue)] = i
            pending = set(futures)
            while pending:
                while not queue.empty():
                    index, event = queue.get()
                    if items[index].status == "queued":
                        items[index].status = "running"
                        on_item(index, items[index])
                    on_event(index, event)
                done = [f for f in pending if f.done()]
                for f in done:
                    pending.discard(f)
                    i = futures[f]
                    try:
                        _, status, message = f.result()
                    except Exception as exc:  # a worker died (killed, out of memory)
                        status, message = "failed", f"worker died: {type(exc).__name__}: {exc}"
                    items[i].status, items[i].message = status, message
                    on_item(i, items[i])
                if pending and not done:
                    import time

                    time.sleep(0.05)
            while not queue.empty():
                index, event = queue.get()
                on_event(index, event)
    return items

