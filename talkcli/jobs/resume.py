"""Rebuild a render job and its settings from a job directory's manifest."""

from __future__ import annotations

from pathlib import Path

from talkcli.job import RenderJob
from talkcli.config.settings import Settings, load_settings
from talkcli.jobs.manifest import JobError, Manifest


def job_from_manifest(job_dir: Path) -> tuple[RenderJob, Settings]:
    """The job recorded in ``job_dir`` (inputs, output, every setting as recorded)."""
    job_dir = Path(job_dir)
    if not job_dir.is_dir():
        raise JobError(f"no job directory at {job_dir}", hint="pass the .talk-* folder beside the output")
    manifest = Manifest.load(job_dir)
    if manifest is None:
        raise JobError(f"{job_dir} has no manifest.json", hint="pass the .talk-* folder beside the output")
    if manifest.status == "complete":
        raise JobError(f"job {job_dir} is already complete: {manifest.output}", hint="render again with talk render --overwrite")
    inputs = manifest.identity.inputs
    recorded = manifest.identity.config
    config = {key: entry["value"] for key, entry in recorded.items() if entry["source"] != "resolved"}
    preset = next((e["source"][len("preset "):] for e in recorded.values() if e["source"].startswith("preset ")), None)
    settings = load_settings(preset, config)
    job = RenderJob(
        ref=Path(inputs["ref"]["path"]),
        audio=Path(inputs["audio"]["path"]),
        out=Path(manifest.output),
        transcript=Path(inputs["transcript"]["path"]) if "transcript" in inputs else None,
        extra_refs=tuple(Path(inputs[k]["path"]) for k in ("ref2", "ref3") if k in inputs),
        job_dir=job_dir,
    )
    return job, settings
