"""The other-language transcript route on real human speech.

There is no real non-English recording with a transcript among the inputs we
may use (the German LibriVox clip's text is not in ../shared), so this runs
the route every non-English transcript takes (eSpeak NG's pronunciation ->
IPA -> ARPAbet -> pocketsphinx alignment, ``talkcli.audio.multilingual``) on
real English recordings, with eSpeak's ``en-us`` standing in for "another
language", and compares it with the English aligner (cmudict pronunciations,
the best labels we have for real speech; not ground truth). The DTW
alternative (``benchmarks/lang_dtw.py``) is measured the same way.

    python benchmarks/lang_real.py AUDIO=TEXT_FILE [AUDIO=TEXT_FILE ...]

Prints per clip: closures of the reference found within +-1 frame, spurious
closures a minute, frame agreement, speed (audio s per CPU s, one core).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

SCORER = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "visemes" / "score.py"


def _scorer():
    spec = importlib.util.spec_from_file_location("viseme_score", SCORER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _aligned(batches) -> list:
    """The phones of ``batches``; a batch that fell back to recognition fails the route."""
    batches = list(batches)
    if not all(b.aligned for b in batches):
        raise RuntimeError("alignment failed on part of the clip")
    return [p for b in batches for p in b.phones]


def main(argv=None) -> None:
    from talkcli.audio.decode import decode_audio
    from talkcli.audio.multilingual import Lexicon
    from talkcli.audio.phonemes import PhoneRecognizer, english_script, phone_batches
    from talkcli.audio.plan import frame_count
    from talkcli.motion.cues import frame_classes

    sys_path = Path(__file__).resolve().parent
    import sys

    sys.path.insert(0, str(sys_path))
    from lang_dtw import dtw_phones

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="+")
    a = ap.parse_args(argv)
    score = _scorer()
    vmap = score.load_map(str(SCORER.parent / "viseme_map.json"))
    rec = PhoneRecognizer()
    print("| clip | route | closures found | spurious /min | frame agreement | x real time |")
    print("|---|---|---|---|---|---|")
    for pair in a.pairs:
        audio, text_file = pair.split("=", 1)
        text = Path(text_file).read_text(encoding="utf-8")
        x = np.asarray(decode_audio(audio).samples, np.float32)
        n = frame_count(len(x), 16000, 25)
        ref_batches = list(phone_batches(x, rec, None, script=english_script(rec, text)))
        if not all(b.aligned for b in ref_batches):
            print(f"| {Path(audio).name} | (the English aligner failed on part of it: no reference) | | | | |")
            continue
        ref = frame_classes([p for b in ref_batches for p in b.phones], n, 25)
        gt = {"duration_s": n / 25, "segments": [{"class": c, "start_s": i / 25, "end_s": (i + 1) / 25} for i, c in enumerate(ref)]}
        routes = {
            "eSpeak -> pocketsphinx": lambda: _aligned(phone_batches(x, rec, None, script=Lexicon("en-us").script(text))),
            "eSpeak DTW": lambda: dtw_phones(x, text, "en-us"),
        }
        for name, run in routes.items():
            t = time.process_time()
            phones = run()
            cpu = time.process_time() - t
            r = score.score_file(gt, {"fps": 25, "frames": frame_classes(phones, n, 25)}, vmap, 25, [0, 1])
            s = score.summarize({"x": r}, vmap, 25, [0, 1])
            c = s["closure"]["tol1"]
            print(f"| {Path(audio).name} | {name} | {c['hits']}/{c['events']} | {c['spurious_per_min']} | "
                  f"{s['frame_accuracy']:.3f} | {len(x) / 16000 / cpu:.1f} |")


if __name__ == "__main__":
    main()
