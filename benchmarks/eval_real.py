"""Lip sync, offset and fidelity figures: the example render, and our avatar against real speakers.

Renders examples/face.jpg speaking examples/speech.wav and measures it with
``talk eval --ref``; then, for every video in the real-inputs folder (the
developers' ../shared/real-inputs/video when present), runs ``talk eval --real``:
our avatar is rendered from the video's first frame and soundtrack and its
mouth compared with the real speaker's. Prints one Markdown table.

    python benchmarks/eval_real.py [--videos DIR] [--out DIR] [--preset NAME]
    python benchmarks/eval_real.py --table A.json B.json ...   (the table of existing talk eval --json reports)

Reports, plots and the avatars go to --out (default: a folder under /tmp), never
into the repository: the real videos show real people.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = ROOT.parent / "shared" / "real-inputs" / "video"
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".avi", ".webm", ".m4v"}

COLUMNS = [
    ("A/V offset ms", ("sync", "av_offset_ms"), "{:+.1f}"),
    ("conf.", ("sync", "av_offset_confidence"), "{:.2f}"),
    ("EBU R37", ("sync", "ebu_r37_pass"), None),
    ("faces", ("mouth", "face_detection_rate"), "{:.3f}"),
    ("open (speech) IOD", ("mouth", "mouth_open_speech_median_iod"), "{:.3f}"),
    ("silence closed", ("silence", "silence_closed_fraction"), "{:.2f}"),
    ("silence closed/rest", ("silence", "silence_closed_or_rest_fraction"), "{:.2f}"),
    ("bg changed", ("fidelity", "background_changed_fraction"), "{:.4f}"),
    ("face PSNR dB", ("fidelity", "face_psnr_db"), "{:.1f}"),
    ("mouth r", ("real", "mouth_r"), "{:.2f}"),
    ("lag ms", ("real", "mouth_lag_ms"), "{:+.0f}"),
    ("LMD IOD (still)", ("real", "lmd_iod"), "{:.4f}"),
    ("real: offset ms", ("real", "real_av_offset_ms"), "{:+.1f}"),
    ("real: open (speech)", ("real", "real_mouth_open_speech_median_iod"), "{:.3f}"),
    ("real: bg changed", ("real", "real_background_changed_fraction"), "{:.4f}"),
    ("render fps", ("speed", "end_to_end_fps"), "{:.0f}"),
]


def _cell(figures: dict, path: tuple[str, str], fmt: str | None) -> str:
    section = figures.get(path[0]) or {}
    value = section.get(path[1])
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "pass" if value else "FAIL"
    text = fmt.format(value) if fmt else str(value)
    if path == ("real", "lmd_iod"):
        still = section.get("lmd_still_baseline_iod")
        text += f" ({still:.4f})" if still is not None else ""
    return text


def print_table(rows: list[tuple[str, dict]]) -> None:
    print("| video | " + " | ".join(name for name, _, _ in COLUMNS) + " |")
    print("| --- " * (len(COLUMNS) + 1) + "|")
    for name, figures in rows:
        print(f"| {name} | " + " | ".join(_cell(figures, path, fmt) for _, path, fmt in COLUMNS) + " |")


def _row_name(figures: dict) -> str:
    inputs = figures["inputs"]
    if inputs.get("real"):
        return f"--real {Path(inputs['real']).name}"
    return Path(inputs["video"]).name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, nargs="+", default=None, help="print the table of these JSON reports and stop")
    parser.add_argument("--videos", type=Path, default=SHARED_VIDEOS, help="folder of real talking videos")
    parser.add_argument("--out", type=Path, default=None, help="where reports and avatars go (default: a temp folder)")
    parser.add_argument("--preset", default=None, help="preset for our renders (default: balanced)")
    args = parser.parse_args()
    if args.table:
        import json

        print_table([(_row_name(f), f) for f in (json.loads(p.read_text()) for p in args.table)])
        return 0

    from talkcli.api import RenderJob, render
    from talkcli.config.settings import load_settings
    from talkcli.eval import evaluate
    from talkcli.eval.report import write_report

    out = args.out or Path(tempfile.mkdtemp(prefix="talk-eval-real-"))
    out.mkdir(parents=True, exist_ok=True)
    settings = load_settings(args.preset, {})
    rows: list[tuple[str, dict]] = []

    example = out / "example.mp4"
    render(RenderJob(ROOT / "examples" / "face.jpg", ROOT / "examples" / "speech.wav", example, overwrite=True), settings)
    report = evaluate(example, ref=ROOT / "examples" / "face.jpg")
    write_report(report, out / "example")
    rows.append(("example render (face.jpg + speech.wav)", report.figures))
    print(f"measured {example} in {report.seconds:.1f} s", file=sys.stderr)

    videos = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if args.videos.is_dir() else []
    if not videos:
        print(f"no real videos in {args.videos}; only the example was measured", file=sys.stderr)
    for video in videos:
        work = out / video.stem
        report = evaluate(real=video, settings=settings, work_dir=work)
        write_report(report, work)
        rows.append((f"--real {video.name}", report.figures))
        print(f"measured {video.name} in {report.seconds:.1f} s", file=sys.stderr)

    print_table(rows)
    print(f"\nreports: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
