"""Write an ``EvalReport``: the JSON report, a Markdown summary and its PNG plots.

Every file is written to a temp name in the target folder and renamed into
place, so a report folder never holds half a file. Plots use matplotlib's Agg
canvas directly (no pyplot, no global backend switch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from talkcli.eval import KEY_DOC, EvalReport
from talkcli.files import write_atomic
from talkcli.events import (
    EventCallback,
    Notice,
    StageFinished,
    StageStarted,
    ignore_events,
)

PLOT_ROW_S = 15.0  # seconds of track per plot row
PLOT_MAX_ROWS = 8  # longer videos: only the first PLOT_ROW_S * PLOT_MAX_ROWS seconds are drawn
SECTIONS = ("mouth", "sync", "silence", "closure", "fidelity", "real", "speed")
SECTION_TITLES = {
    "mouth": "Mouth track",
    "sync": "A/V offset",
    "silence": "Silence",
    "closure": "Closures (p, b, m) against the phoneme truth",
    "fidelity": "Fidelity",
    "real": "Agreement with the real speaker",
    "speed": "Speed (from the render's record)",
}


def write_json(report: EvalReport, path: Path, with_tracks: bool = True) -> None:
    """The JSON report (figures, ``key_doc``, per-frame ``tracks``), written atomically."""
    write_atomic(Path(path), lambda f: f.write(report.to_json(with_tracks).encode("utf-8") + b"\n"))


def write_report(report: EvalReport, directory: Path, on_event: EventCallback = ignore_events) -> list[Path]:
    """``report.json``, ``report.md`` and the plots in ``directory`` (created if missing); returns the paths."""
    import time

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    on_event(StageStarted("report"))
    t0 = time.perf_counter()
    written = []
    plots: dict[str, str] = {}
    for name, draw in (
        ("mouth_track.png", _plot_track),
        ("offset.png", _plot_offset),
        ("contact_sheet.png", _plot_stills),
        ("background.png", _plot_background),
    ):
        fig = draw(report, on_event)
        if fig is None:
            continue
        path = directory / name
        write_atomic(path, lambda f, fig=fig: _save(fig, f))
        plots[name] = path.name
        written.append(path)
    json_path = directory / "report.json"
    write_json(report, json_path)
    written.append(json_path)
    md = directory / "report.md"
    text = markdown(report, plots)
    write_atomic(md, lambda f: f.write(text.encode("utf-8")))
    written.append(md)
    on_event(StageFinished("report", time.perf_counter() - t0))
    return written


# -- files ----------------------------------------------------------------------


def _save(fig, f) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(f, format="png", dpi=100)


# -- Markdown --------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) if value else "none"
    return str(value)


def _verdicts(fig: dict[str, Any]) -> list[str]:
    lines = []
    sync = fig.get("sync") or {}
    off = sync.get("av_offset_ms")
    if off is None:
        lines.append("- **A/V offset**: not measurable (the mouth does not move).")
    else:
        side = "late" if off > 0 else "early"
        verdict = "within" if sync.get("ebu_r37_pass") else "**outside**"
        lines.append(
            f"- **A/V offset**: audio {abs(off):.0f} ms {side} (confidence {sync.get('av_offset_confidence'):.2f}), "
            f"{verdict} EBU R37 (audio at most 40 ms early, 60 ms late)."
        )
    mouth = fig.get("mouth") or {}
    lines.append(f"- **Face found** on {100 * (mouth.get('face_detection_rate') or 0):.1f}% of {fig['video']['n_frames']} frames.")
    sil = fig.get("silence") or {}
    if sil.get("silence_closed_or_rest_fraction") is not None:
        lines.append(
            f"- **Silence**: lips closed on {100 * sil['silence_closed_fraction']:.0f}%, closed or at the photo's rest "
            f"opening ({_fmt(sil['mouth_rest_opening_iod'])} IOD) on {100 * sil['silence_closed_or_rest_fraction']:.0f}% of "
            f"{sil['silent_frames']} silent frames."
        )
    real = fig.get("real")
    if real:
        lines.append(
            f"- **Real speaker**: mouth r = {_fmt(real['mouth_r'])} (best lag {_fmt(real['mouth_lag_ms'])} ms), "
            f"LMD {_fmt(real['lmd_iod'])} IOD vs {_fmt(real['lmd_still_baseline_iod'])} for a still first frame; "
            f"the real video's own A/V offset by the same method: {_fmt(real['real_av_offset_ms'])} ms "
            f"(confidence {_fmt(real['real_av_offset_confidence'])})."
        )
    clo = fig.get("closure")
    if clo:
        lines.append(
            f"- **Closures**: {clo['closures_met']} of {clo['closure_events']} p/b/m closures measured closed within +-1 frame; "
            f"{clo['spurious_closures']} spurious closures during speech ({_fmt(clo['spurious_closures_per_min'])}/min)."
        )
    return lines


def markdown(report: EvalReport, plots: dict[str, str] | None = None) -> str:
    """The Markdown summary: verdicts, one table of figures per section, the plots."""
    plots = plots or {}
    fig = report.figures
    inputs = fig["inputs"]
    title = Path(inputs["video"]).name
    if inputs.get("avatar_rendered_from_real"):
        title = f"our avatar of {Path(inputs['real']).name}"
    out = [f"# talk eval: {title}", ""]
    out.append(f"- video: `{inputs['video']}`")
    for key in ("ref", "real", "truth"):
        if inputs.get(key):
            out.append(f"- {key}: `{inputs[key]}`")
    if inputs.get("avatar_rendered_from_real"):
        out.append("- the video is our avatar, rendered from the real video's first frame and soundtrack")
    v = fig["video"]
    out.append(f"- {v['width']}x{v['height']}, {v['n_frames']} frames at {v['fps']:g} fps, {v['duration_s']} s; audio starts at {v['audio_start_s']} s")
    out += ["", "## Summary", "", *_verdicts(fig), ""]
    placed = {
        "mouth": ["mouth_track.png", "contact_sheet.png"],
        "sync": ["offset.png"],
        "fidelity": ["background.png"],
    }
    for section in SECTIONS:
        values = fig.get(section)
        out += [f"## {SECTION_TITLES[section]}", ""]
        if not values:
            reason = {
                "closure": "No phoneme truth given (`--truth`).",
                "real": "No real video given (`--real`).",
            }.get(section, "Not available.")
            out += [reason, ""]
            continue
        out += ["| figure | value | meaning |", "| --- | --- | --- |"]
        for key, value in values.items():
            doc = KEY_DOC.get(f"{section}.{key}", "")
            out.append(f"| `{key}` | {_fmt(value)} | {doc} |")
        out.append("")
        for name in placed.get(section, []):
            if name in plots:
                out += [f"![{name}]({plots[name]})", ""]
    out.append(f"Measured in {fig.get('eval_seconds', 0):.1f} s. The per-frame tracks are in `report.json` (`tracks`).")
    return "\n".join(out) + "\n"


# -- plots -----------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _phone_labels(report: EvalReport, on_event: EventCallback) -> tuple[list[tuple[str, float, float]], str]:
    """(label, start, end) on the video timeline, and where they came from."""
    a = report.ours
    if report.truth is not None:
        shift = a.audio_start_s
        segs = [(s.phoneme, s.start_s + shift, s.end_s + shift) for s in report.truth.segments if not report.truth.is_silence(s.phoneme)]
        return segs, "phonemes: truth file"
    try:  # display only: the measurements never use recognised phones
        from talkcli.audio.decode import ANALYSIS_RATE, decode_audio
        from talkcli.audio.phonemes import PhoneRecognizer, speech_chunks

        samples = decode_audio(a.path).samples
        recognizer = PhoneRecognizer()
        phones = [
            p
            for c in speech_chunks(samples)
            for p in recognizer.recognise(samples[c.start : c.end], offset_s=c.start / ANALYSIS_RATE)
        ]
    except Exception as exc:  # noqa: BLE001  (labels are decoration; the report must not fail on them)
        on_event(Notice("warning", f"no phone labels on the plot: {type(exc).__name__}: {exc}"))
        return [], ""
    shift = a.audio_start_s
    segs = [(p.name, p.start_s + shift, p.end_s + shift) for p in phones if p.name not in ("SIL", "sil", "+NSN+", "+SPN+")]
    return segs, "phones: recognised by pocketsphinx (labels only)"


def _plot_track(report: EvalReport, on_event: EventCallback):
    a = report.ours
    fps = a.fps
    n = a.track.n_frames
    t = (np.arange(n) + 0.5) / fps
    duration = n / fps
    rows = max(1, min(PLOT_MAX_ROWS, int(np.ceil(duration / PLOT_ROW_S))))
    fig = _figure(16, 3.2 * rows + 0.6)
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    op = a.track.opening
    env = a.envelope / (np.max(a.envelope) or 1.0) * max(0.3, float(np.nanmax(op)) if np.isfinite(op).any() else 0.3)
    real_op = None
    if report.real is not None:
        from talkcli.eval import _real_shift
        from talkcli.eval.compare import resample_track
        from talkcli.eval.track import MouthTrack

        lm = resample_track(report.real.track, a.track.times(), _real_shift(a, report.real))
        real_op = MouthTrack(fps, 0, 0, lm).opening
    labels, label_source = _phone_labels(report, on_event)
    closures = report.truth.closures() if report.truth is not None else []
    top = max(0.35, float(np.nanmax(op)) * 1.25 if np.isfinite(op).any() else 0.35)
    for row, ax in enumerate(axes):
        lo, hi = row * PLOT_ROW_S, min(duration, (row + 1) * PLOT_ROW_S)
        sel = (t >= lo) & (t < hi)
        ax.fill_between(t[sel], 0, env[sel], color="0.85", step="mid", label="speech envelope (scaled)")
        silent = a.silent & sel
        for i in np.flatnonzero(silent):
            ax.axvspan(i / fps, (i + 1) / fps, color="#d8f0d8", lw=0)
        ax.plot(t[sel], op[sel], color="#1f5fbf", lw=1.4, label="our inner-lip opening")
        if real_op is not None:
            ax.plot(t[sel], real_op[sel], color="#e07b00", lw=1.2, label="real speaker's opening")
        for s, e in closures:
            s, e = s + a.audio_start_s, e + a.audio_start_s
            if lo <= s < hi:
                ax.axvspan(s, e, ymin=0, ymax=0.06, color="#c0392b", lw=0)
        k = 0
        for name, s, e in labels:
            if lo <= 0.5 * (s + e) < hi:
                ax.text(0.5 * (s + e), top * (0.93 if k % 2 == 0 else 0.86), name, ha="center", va="center", fontsize=6.5, color="0.25")
                ax.axvline(s, color="0.9", lw=0.5, zorder=0)
                k += 1
        ax.set_xlim(lo, lo + PLOT_ROW_S)
        ax.set_ylim(0, top)
        ax.set_ylabel("opening / IOD")
        ax.grid(axis="y", color="0.92")
    axes[-1].set_xlabel("time (s); green: silent frames" + (", red ticks: p/b/m in the truth" if closures else ""))
    axes[0].legend(loc="upper right", fontsize=8, framealpha=0.8)
    off = report.figures["sync"]["av_offset_ms"]
    title = f"Mouth opening and speech: A/V offset {off:+.0f} ms" if off is not None else "Mouth opening and speech"
    fig.suptitle(title + (f"   ({label_source})" if label_source else ""), fontsize=11)
    fig.tight_layout()
    return fig


def _plot_offset(report: EvalReport, on_event: EventCallback):
    from talkcli.eval.sync import EBU_R37_AUDIO_EARLY_MS, EBU_R37_AUDIO_LATE_MS

    fig = _figure(8, 3.8)
    ax = fig.subplots()
    ax.axvspan(-EBU_R37_AUDIO_EARLY_MS, EBU_R37_AUDIO_LATE_MS, color="#d8f0d8", label="EBU R37 tolerance")
    series = [("ours", report.ours, "#1f5fbf")]
    if report.real is not None:
        series.append(("real speaker", report.real, "#e07b00"))
    for name, a, colour in series:
        o = a.offset
        ax.plot(o.lags_ms, o.r, color=colour, lw=1.4, label=f"{name}: mouth vs speech envelope (changes)")
        if o.offset_ms is not None:
            ax.axvline(o.offset_ms, color=colour, ls="--", lw=1)
            ax.annotate(f"{o.offset_ms:+.0f} ms", (o.offset_ms, o.peak_r), textcoords="offset points", xytext=(4, 4), fontsize=8, color=colour)
    ax.axvline(0, color="0.5", lw=0.6)
    ax.set_xlabel("lag (ms): > 0 the audio is late (mouth before sound), < 0 early")
    ax.set_ylabel("Pearson r")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("A/V offset search")
    fig.tight_layout()
    return fig


def _tile(frame: np.ndarray, landmarks: np.ndarray | None, side: int = 200) -> np.ndarray:
    import cv2

    if landmarks is not None and np.isfinite(landmarks).all():
        from talkcli.face.topology import FACE_OVAL

        oval = landmarks[FACE_OVAL]
        (x0, y0), (x1, y1) = oval.min(axis=0), oval.max(axis=0)
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.6 * max(x1 - x0, y1 - y0)
        m = np.array([[side / (2 * half), 0, side / 2 - cx * side / (2 * half)], [0, side / (2 * half), side / 2 - cy * side / (2 * half)]])
        return cv2.warpAffine(frame, m, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
    return cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA)


def _plot_stills(report: EvalReport, on_event: EventCallback):
    rows = [(name, frames) for name, frames in report.stills.items() if frames]
    if not rows:
        return None
    cols = max(len(f) for _, f in rows)
    fig = _figure(2.3 * cols, 2.6 * len(rows))
    axes = fig.subplots(len(rows), cols, squeeze=False)
    a = report.ours
    for r, (name, frames) in enumerate(rows):
        is_real = name.startswith("real")
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(frames):
                continue
            index = sorted(frames)[c]
            track = a.track
            lm = track.landmarks[index] if index < track.n_frames else None
            if is_real and report.real is not None:
                from talkcli.eval import _real_shift

                j = int(np.floor((index / a.fps - _real_shift(a, report.real)) * report.real.fps + 1e-6))
                rt = report.real.track
                lm = rt.landmarks[j] if 0 <= j < rt.n_frames else None
                opening = rt.opening[j] if 0 <= j < rt.n_frames else np.nan
            else:
                opening = track.opening[index]
            ax.imshow(_tile(frames[index], lm))
            ax.set_title(f"{index / a.fps:.2f} s, open {opening:.2f}", fontsize=8)
        axes[r, 0].text(-0.08, 0.5, name, transform=axes[r, 0].transAxes, rotation=90, ha="right", va="center", fontsize=8)
    fig.suptitle("Contact sheet (opening in inter-ocular distances)", fontsize=10)
    fig.tight_layout()
    return fig


def _plot_background(report: EvalReport, on_event: EventCallback):
    bg = report.ours.background
    mean = bg.mean_frame()
    if mean is None or not bg.pair_fractions:
        return None
    fig = _figure(10, 4.2)
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    ax0.imshow(mean, cmap="gray")
    share = bg.change_count / max(1, len(bg.pair_fractions))
    overlay = np.ma.masked_where(share < 0.01, share)  # pixels that changed in at least 1% of the pairs
    im = ax0.imshow(overlay, cmap="inferno", vmin=0, vmax=max(0.05, float(share.max())), alpha=0.85)
    fig.colorbar(im, ax=ax0, fraction=0.046, label="share of frame pairs changed")
    ax0.set_title("where the background changes (in >= 1% of frame pairs)", fontsize=9)
    ax0.axis("off")
    frac = np.array(bg.pair_fractions)
    ax1.plot(np.array(bg.pair_frames) / report.ours.fps, frac, color="#7a3fbf", lw=1)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("background share changed > 2 grey levels")
    ax1.set_title(f"pooled: {100 * (bg.fraction or 0):.2f}% of background pixels per frame pair", fontsize=9)
    fig.tight_layout()
    return fig
