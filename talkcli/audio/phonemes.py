"""Speech -> timed phones with pocketsphinx (models shipped in its wheel).

Audio is cut into chunks at pauses (at most ``max_chunk_s`` long) and each chunk
is decoded on its own, so phones for the first seconds are ready long before
the last audio is analysed and a long recording never goes to the decoder in
one piece. Two modes:

- recognition: pocketsphinx's phone-loop ("allphone") search with the en-us
  phone language model;
- alignment: forced alignment of a known transcript (``--transcript``), which
  is far more accurate where it succeeds; where it fails, the affected audio
  falls back to recognition.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from talkcli.audio.decode import ANALYSIS_RATE

HOP = 160  # 10 ms at 16 kHz: pocketsphinx's frame rate is 100 frames/s
SECONDS_PER_PS_FRAME = 0.01
DECODER_SEED = 1234  # pocketsphinx dithers with its own RNG; a fixed seed keeps phones repeatable
# Forced alignment's pruning: pocketsphinx's defaults first (beam, pbeam, wbeam = 1e-48,
# 1e-48, 7e-29), then these wide beams where the defaults fail. With the defaults the
# search prunes away the true path on some stretches (fast speech) and gives up; wide
# beams find it, but where both succeed the defaults place phone boundaries better
# (measured on the mouth-timing benchmark).
ALIGN_WIDE_BEAMS = {"beam": 1e-100, "pbeam": 1e-100, "wbeam": 1e-80}
# Quiet the aligner hears before and after each stretch (seconds, dBFS): room for
# the leading and trailing silence of the alignment grammar (see _phone_pass).
ALIGN_PAD_S = 0.2
ALIGN_PAD_DB = -60.0


@dataclass(frozen=True)
class Phone:
    """One phone (ARPAbet, no stress) from ``start_s`` to ``end_s`` seconds of the whole audio."""

    name: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Chunk:
    """Samples ``[start, end)`` of the 16 kHz analysis audio, decoded as one utterance."""

    start: int
    end: int


def frame_db(samples: np.ndarray) -> np.ndarray:
    """Level in dBFS of each 10 ms frame, ``(ceil(n / 160),) float32``."""
    n = len(samples)
    frames = -(-n // HOP)
    out = np.empty(frames, dtype=np.float32)
    step = 6000 * HOP  # one minute at a time: memory stays flat however long the audio
    for a in range(0, frames * HOP, step):
        block = np.zeros(min(step, frames * HOP - a), dtype=np.float32)
        piece = samples[a : a + len(block)]
        block[: len(piece)] = piece
        rms = np.sqrt(np.mean(block.reshape(-1, HOP) ** 2, axis=1) + 1e-12)
        out[a // HOP : a // HOP + len(rms)] = 20.0 * np.log10(rms + 1e-9)
    return out


def silence_threshold_db(db: np.ndarray) -> float:
    """Level below which a 10 ms frame counts as pause: 25% of the way from the noise floor to speech."""
    floor = float(np.percentile(db, 10))
    speech = float(np.percentile(db, 95))
    return max(-70.0, floor + 0.25 * (speech - floor))


def speech_chunks(samples: np.ndarray, max_chunk_s: float = 12.0, min_pause_s: float = 0.2,
                  first_chunk_s: float = 4.0) -> list[Chunk]:
    """Cut points at pauses: a pure function of the samples.

    Chunks cover ``[0, len(samples))`` contiguously. A cut falls in the middle of
    a pause of at least ``min_pause_s``; where speech runs on past
    ``max_chunk_s``, the cut goes at the quietest 10 ms of the last 3 seconds.
    The first chunk is at most ``first_chunk_s`` long, so the first frames are
    encoded soon after the audio is decoded.
    """
    n = len(samples)
    db = frame_db(samples)
    quiet = db < silence_threshold_db(db)
    max_frames = int(max_chunk_s * 100)
    min_pause = max(1, int(min_pause_s * 100))
    # Centres of pauses long enough to cut at.
    cuts_ok = []
    run_start = None
    for i, q in enumerate(np.append(quiet, False)):
        if q and run_start is None:
            run_start = i
        elif not q and run_start is not None:
            if i - run_start >= min_pause and run_start > 0 and i < len(quiet):
                cuts_ok.append((run_start + i) // 2)
            run_start = None
    chunks = []
    start_f = 0
    total_f = len(db)
    ci = 0
    first_frames = int(min(first_chunk_s, max_chunk_s) * 100)
    while total_f - start_f > (max_frames if chunks else first_frames):
        limit = start_f + (max_frames if chunks else first_frames)
        best = None
        while ci < len(cuts_ok) and cuts_ok[ci] <= limit:
            if cuts_ok[ci] > start_f + 50:  # chunks of at least 0.5 s
                best = cuts_ok[ci]
            ci += 1
        if best is None:
            lo = max(start_f + 50, limit - 300)
            best = lo + int(np.argmin(db[lo:limit]))
        chunks.append(Chunk(start_f * HOP, min(n, best * HOP)))
        start_f = best
    chunks.append(Chunk(min(n, start_f * HOP), n))
    return [c for c in chunks if c.end > c.start]


def with_noise_floor(samples, level_db: float):
    """``samples`` plus white noise at ``level_db`` dBFS RMS, lazily: slices of the result carry
    noise that depends only on the sample position (the same for every call and every slicing)."""
    from talkcli.audio.buffer import NoisySamples

    return NoisySamples(samples, level_db, DECODER_SEED)


def _to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


_WORD = re.compile(r"[a-z0-9']+")


class PhoneRecognizer:
    """pocketsphinx decoders (en-us), created once and reused for every chunk."""

    def __init__(self, lw: float = 2.0, pip: float = 0.3, beam: float = 1e-200, pbeam: float = 1e-20, **extra) -> None:
        from pocketsphinx import get_model_path

        model = get_model_path()
        self._hmm = os.path.join(model, "en-us", "en-us")
        self._dict = os.path.join(model, "en-us", "cmudict-en-us.dict")
        self._phone_lm = os.path.join(model, "en-us", "en-us-phone.lm.bin")
        self._allphone_args = dict(lw=lw, pip=pip, beam=beam, pbeam=pbeam, **extra)
        self._allphone_decoder = None  # created when first needed: aligned speech never needs it
        self._aligner = None  # forced alignment, created when first needed
        self._aligner_beams: dict[str, float] = {}  # its default beams
        self._dict_bytes: bytes | None = None  # cmudict, read when first needed
        self._dict_lines = None  # byte offset of each of its lines
        self._prons: dict[str, list[str]] = {}  # word -> its pronunciations in dictionary order; [] if unknown

    @property
    def _allphone(self):
        if self._allphone_decoder is None:
            from pocketsphinx import Decoder

            # No dictionary and no word language model: the phone loop uses neither, and pocketsphinx
            # would otherwise load its defaults (cmudict and en-us.lm.bin, 0.4 s of CPU) for nothing.
            self._allphone_decoder = Decoder(hmm=self._hmm, allphone=self._phone_lm, dict=os.devnull, lm=None, dither=True,
                                             seed=DECODER_SEED, loglevel="FATAL", **self._allphone_args)
        return self._allphone_decoder

    def _aligner_decoder(self, wide: bool = False):
        """The alignment decoder, with pocketsphinx's default beams or ``ALIGN_WIDE_BEAMS``.

        One decoder serves both: the alignment search reads its beams from the
        configuration each time a text is set, so switching costs nothing, where
        a second decoder would load the acoustic model again. Its dictionary
        holds only the words met so far (loading all of cmudict's 135,000 words
        costs about 0.3 s of CPU, more than aligning a short clip), and it loads
        no word language model (pocketsphinx's default one costs 0.12 s).
        """
        if self._aligner is None:
            from pocketsphinx import Decoder

            d = Decoder(hmm=self._hmm, dict=os.devnull, lm=None, dither=True, seed=DECODER_SEED, loglevel="FATAL")
            self._aligner_beams = {k: float(d.config[k]) for k in ALIGN_WIDE_BEAMS}
            for word, prons in self._prons.items():
                _add_word(d, word, prons)
            self._aligner = d
        beams = ALIGN_WIDE_BEAMS if wide else self._aligner_beams
        for k, v in beams.items():
            self._aligner.config[k] = v
        return self._aligner

    def _lookup(self, words) -> None:
        """Read the pronunciations of ``words`` from cmudict.

        The file lists words in byte order (each word's alternatives, ``word(2)``
        ..., right after it), so each word is a binary search over its lines.
        """
        todo = sorted({w for w in words if w not in self._prons})
        if not todo:
            return
        if self._dict_bytes is None:
            with open(self._dict, "rb") as f:
                self._dict_bytes = f.read()
            newlines = np.flatnonzero(np.frombuffer(self._dict_bytes, dtype=np.uint8) == 10)
            self._dict_lines = np.concatenate([[0], newlines + 1])
        data, starts = self._dict_bytes, self._dict_lines

        def line(i: int) -> tuple[bytes, bytes]:
            text = data[starts[i] : starts[i + 1] - 1 if i + 1 < len(starts) else len(data)]
            key, _, pron = text.partition(b" ")
            return key.split(b"(")[0], pron

        found: dict[str, list[str]] = {}
        for w in todo:
            target = w.encode("utf-8")
            lo, hi = 0, len(starts)
            while lo < hi:  # the first line whose word is not before ``target``
                mid = (lo + hi) // 2
                if line(mid)[0] < target:
                    lo = mid + 1
                else:
                    hi = mid
            prons = []
            while lo < len(starts) and line(lo)[0] == target:
                prons.append(line(lo)[1].decode("utf-8").strip())
                lo += 1
            found[w] = [p for p in prons if p]
        self._prons.update(found)
        if self._aligner is not None:
            for w, prons in found.items():
                _add_word(self._aligner, w, prons)

    def pronunciations(self, words: list[str]) -> list[str | None]:
        """ARPAbet phones of each of ``words`` (lower case), from the dictionary or derived
        from a dictionary stem (``derived_pronunciation``); None where neither knows it."""
        self._lookup(words)
        missing = [w for w in words if not self._prons[w]]
        if missing:
            self._lookup(stem for w in missing for _, stem in _stem_candidates(w))
            for w in set(missing):
                pron = derived_pronunciation(w, lambda stem: (self._prons.get(stem) or [None])[0])
                if pron:
                    self._prons[w] = [pron]
                    if self._aligner is not None:
                        _add_word(self._aligner, w, [pron])
        return [(self._prons[w] or [None])[0] for w in words]

    def pronunciation(self, word: str) -> str | None:
        return self.pronunciations([word])[0]

    def add_words(self, prons: dict[str, str]) -> None:
        """Words with known ARPAbet phones (from another language's lexicon) for alignment."""
        new = {w: [p] for w, p in prons.items() if self._prons.get(w) != [p]}
        self._prons.update(new)
        if self._aligner is not None:
            for w, p in new.items():
                _add_word(self._aligner, w, p)

    def recognise(self, samples: np.ndarray, offset_s: float = 0.0) -> list[Phone]:
        """Phone-loop recognition of one chunk; times are offset by ``offset_s``."""
        d = self._allphone
        # Fresh feature state per chunk: live CMN and the dither RNG would otherwise carry over
        # from earlier chunks, and a resumed job would hear this chunk differently.
        d.reinit_feat()
        d.start_utt()
        d.process_raw(_to_pcm16(samples), full_utt=True)
        d.end_utt()
        # No segmentation at all (None) for a chunk of 400 samples or fewer: the short
        # tail chunk speech_chunks leaves when a clip runs just past a cut.
        return [
            Phone(seg.word, offset_s + seg.start_frame * SECONDS_PER_PS_FRAME, offset_s + (seg.end_frame + 1) * SECONDS_PER_PS_FRAME)
            for seg in d.seg() or ()
        ]

    def _two_pass(self, pcm: bytes, words: list[str], wides: tuple[bool, ...] = (False, True)):
        """Word-level alignment: (the decoder that succeeded, its segments); default beams, then wide ones."""
        for wide in wides:
            d = self._aligner_decoder(wide)
            d.reinit_feat()
            d.set_align_text(" ".join(words))
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            seg = d.seg()
            if seg is not None:
                return d, [(s.word, s.start_frame, s.end_frame) for s in seg]
        raise RuntimeError("forced alignment failed")

    def _phone_pass(self, samples: np.ndarray, words: list[str], offset_s: float, wides: tuple[bool, ...] = (False, True)) -> list[Phone] | None:
        """Word then phone alignment of ``words`` to the whole stretch; None where pocketsphinx fails.

        The stretch goes to the decoder between two ``ALIGN_PAD_S`` stretches of
        quiet, and the words between two optional-looking ``<sil>``: without them
        the word search often starts its path with a one-frame ``<s>``, which the
        phone pass (constrained to the word boundaries) cannot fit a silence
        model into, and the phone pass fails outright.
        """
        pad = round(ALIGN_PAD_S * ANALYSIS_RATE)
        quiet = np.random.Generator(np.random.PCG64(DECODER_SEED)).standard_normal(pad, dtype=np.float32) * np.float32(10 ** (ALIGN_PAD_DB / 20))
        pcm = _to_pcm16(np.concatenate([quiet, np.asarray(samples, dtype=np.float32), quiet]))
        end_s = offset_s + len(samples) / ANALYSIS_RATE
        shift = offset_s - pad / ANALYSIS_RATE
        for wide in wides:
            try:
                d, segs = self._two_pass(pcm, ["<sil>", *words, "<sil>"], (wide,))
                if [_base(w) for w, _, _ in segs if _is_word(w)] != list(words):
                    continue  # the search ran out of audio before the last word: a partial path
                d.set_alignment()
                d.start_utt()
                d.process_raw(pcm, full_utt=True)
                d.end_utt()
                alignment = d.get_alignment()
            except (RuntimeError, TypeError):  # TypeError: pocketsphinx gave no segmentation
                continue
            if alignment is None:
                continue
            got: list[Phone] = []
            for wd in alignment:
                if not _is_word(wd.name):
                    continue
                got.extend(rhotic_vowels(mark_strut(_base(wd.name), [
                    Phone(ph.name, min(end_s, max(offset_s, shift + ph.start * SECONDS_PER_PS_FRAME)),
                          min(end_s, max(offset_s, shift + (ph.start + ph.duration) * SECONDS_PER_PS_FRAME)))
                    for ph in wd
                ])))
            if got:
                return got
        return None

    def align(self, samples: np.ndarray, words: list[str], offset_s: float = 0.0, min_share: float = 0.8) -> list[Phone] | None:
        """Forced alignment of ``words`` to one stretch of speech; None where pocketsphinx fails.

        First the whole stretch in one word pass and one phone pass. Where that
        fails, word boundaries come from one (wide-beam, if need be) word pass
        over the whole stretch, and the phone pass runs per group of words
        between pauses (a few seconds each); where it still fails, the word's
        dictionary phones share the word's span in proportion to typical phone
        durations. Where the word pass runs out of audio before the last word
        (a partial path) but has placed at least ``min_share`` of the words,
        the words it left out are aligned in the audio after it, the same way
        (``_tail``); with fewer, None (the caller has a better fallback: the
        clip aligned chunk by chunk).
        """
        if not words:
            return None
        self.pronunciations(words)  # into the decoder's dictionary
        whole = self._phone_pass(samples, words, offset_s)
        if whole:
            return whole
        try:
            _, segs = self._two_pass(_to_pcm16(samples), words)
        except (RuntimeError, TypeError):  # TypeError: pocketsphinx gave no segmentation
            return None
        word_segs = [(w, a, b) for w, a, b in segs if _is_word(w)]
        if not word_segs or len(word_segs) < len(words) * min_share:
            return None
        phones: list[Phone] = []
        for group in _groups(word_segs):
            g0, g1 = group[0][1], group[-1][2] + 1
            got = self._phone_pass(samples[g0 * HOP : g1 * HOP], [_base(w) for w, _, _ in group], offset_s + g0 * SECONDS_PER_PS_FRAME)
            if not got:
                got = []
                for w, a, b in group:
                    got.extend(self._spread(w, offset_s + a * SECONDS_PER_PS_FRAME, offset_s + (b + 1) * SECONDS_PER_PS_FRAME))
            phones.extend(got)
        if len(word_segs) < len(words):  # a partial path: the search ran out of audio before the last words
            phones.extend(self._tail(samples, words[len(word_segs) :], word_segs[-1][2] + 1, offset_s))
        return phones or None

    def _tail(self, samples: np.ndarray, words: list[str], start_frame: int, offset_s: float) -> list[Phone]:
        """Phones of the ``words`` a partial word path left out, in the audio after ``start_frame``:
        aligned there on their own (each partial path there aligns at least one more word), or
        else laid over it in proportion to their phones."""
        rest = samples[start_frame * HOP :]
        start_s = offset_s + start_frame * SECONDS_PER_PS_FRAME
        got = self.align(rest, words, start_s, min_share=0.0) if len(rest) > HOP * len(words) else None
        if got:
            return got
        weights = np.array([_word_weight(self, w) for w in words])
        edges = start_s + len(rest) / ANALYSIS_RATE * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        return [p for k, w in enumerate(words) for p in self._spread(w, float(edges[k]), float(edges[k + 1]))]

    def _spread(self, word: str, start_s: float, end_s: float) -> list[Phone]:
        """The dictionary phones of ``word`` laid over its span, vowels weighted twice."""
        base, _, alt = word.partition("(")
        self._lookup([base])
        prons = self._prons[base] or [self.pronunciation(base) or ""]
        pron = prons[min(len(prons), int(alt.rstrip(")") or 1)) - 1].split()
        if not pron:
            return []
        weights = np.array([2.0 if p in _VOWELS else 1.0 for p in pron])
        edges = start_s + (end_s - start_s) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        return [Phone(p, float(edges[i]), float(edges[i + 1])) for i, p in enumerate(pron)]


# Words from another language's lexicon (``talkcli.audio.multilingual``) are named "x-" + their phones.
LEXICON_PREFIX = "x-"

# Words whose AH is (nearly always) the reduced schwa in running speech.
_WEAK_AH_WORDS = frozenset(
    "a an the of from was what us does just must than that them and as at some such because "
    "was were has had have do does to".split()
)

def mark_strut(word: str, phones: list[Phone]) -> list[Phone]:
    """ARPAbet AH is both the open, stressed strut vowel (cup, love) and the neutral schwa (about);
    pocketsphinx's dictionary has no stress marks, so the aligned word decides: AH is marked
    stressed (``AH1``, an open mouth) in a word whose only vowel it is (not a weak function
    word), and in a longer word where it is the longest vowel, not counting a word-final -er
    (nearly always unstressed: mother, summer), and does not end the word (sofa)."""
    vowels = [k for k, p in enumerate(phones) if p.name in _VOWELS]
    ahs = [k for k in vowels if phones[k].name == "AH"]
    if not ahs or word.startswith(LEXICON_PREFIX):  # another language's AH is its schwa (ə, ɐ)
        return phones
    pick = None
    if len(vowels) == 1:
        if word not in _WEAK_AH_WORDS:
            pick = ahs[0]
    else:
        dur = {k: phones[k].end_s - phones[k].start_s for k in vowels}
        if phones[vowels[-1]].name == "ER":
            vowels = vowels[:-1]
        k = max(vowels, key=lambda k: dur[k])
        if phones[k].name == "AH" and k != len(phones) - 1:
            pick = k
    if pick is None:
        return phones
    out = list(phones)
    out[pick] = Phone("AH1", phones[pick].start_s, phones[pick].end_s)
    return out


def rhotic_vowels(phones: list[Phone]) -> list[Phone]:
    """One word's phones with each r after a vowel (not before one) merged into that vowel.

    The dictionary spells an r-coloured vowel as vowel + R (four F AO R, here HH IY R),
    but it is one nucleus: the mouth keeps the vowel's shape through it, and the r of
    "carry" (before a vowel) stays a consonant.
    """
    out: list[Phone] = []
    for k, p in enumerate(phones):
        after_vowel = out and out[-1].name.rstrip("012") in _VOWELS - {"ER"}
        before_vowel = k + 1 < len(phones) and phones[k + 1].name.rstrip("012") in _VOWELS
        if p.name == "R" and after_vowel and not before_vowel:
            out[-1] = Phone(out[-1].name, out[-1].start_s, p.end_s)
        else:
            out.append(p)
    return out


_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}


_VOICELESS = {"P", "T", "K", "F", "TH"}
_SIBILANT = {"S", "Z", "SH", "ZH", "CH", "JH"}


def _stem_candidates(word: str):
    """(ending, stem) pairs that ``word`` may be built from, most likely first."""
    for ending in ("'s", "s", "es", "ed", "d", "ing", "er", "ly", "est"):
        if not word.endswith(ending) or len(word) - len(ending) < 2:
            continue
        base = word[: -len(ending)]
        yield ending, base
        yield ending, base + "e"
        if len(base) > 2 and base[-1] == base[-2]:
            yield ending, base[:-1]
        if base.endswith("i"):
            yield ending, base[:-1] + "y"


def derived_pronunciation(word: str, lookup) -> str | None:
    """Pronunciation of an inflected word that the dictionary lacks, from its stem.

    ``lookup(word)`` gives a dictionary pronunciation or None. Handles the regular
    endings -s/-es/-'s, -ed, -ing, -er, -ly and -est, with the stem's final e
    dropped or its final consonant doubled ("prowled" -> "prowl" + D,
    "stopping" -> "stop" + IH NG). None where no ending fits a known stem.
    """
    for ending, stem in _stem_candidates(word):
        pron = lookup(stem)
        if not pron:
            continue
        last = pron.split()[-1]
        if ending in ("'s", "s", "es"):
            tail = "IH Z" if last in _SIBILANT else "S" if last in _VOICELESS else "Z"
        elif ending in ("ed", "d"):
            tail = "IH D" if last in ("T", "D") else "T" if last in _VOICELESS | _SIBILANT - {"Z", "ZH", "JH"} else "D"
        else:
            tail = {"ing": "IH NG", "er": "ER", "ly": "L IY", "est": "AH S T"}[ending]
        return f"{pron} {tail}"
    return None


def _add_word(decoder, word: str, prons: list[str]) -> None:
    """Put ``word`` and its alternative pronunciations (``word(2)`` ...) in a decoder's dictionary."""
    for k, pron in enumerate(prons):
        decoder.add_word(word if k == 0 else f"{word}({k + 1})", pron, False)


def _is_word(name: str) -> bool:
    """False for pocketsphinx's sentence markers, silences and fillers (``<s>``, ``<sil>``, ``++NOISE++``)."""
    return name not in ("<s>", "</s>", "<sil>") and not name.startswith(("+", "["))


def _base(word: str) -> str:
    """'and(2)' -> 'and': alternative pronunciations are numbered in the segmentation."""
    return word.split("(")[0]


def _groups(word_segs, max_frames: int = 400):
    """Split aligned words into runs separated by gaps of 150 ms or more, at most 4 s each."""
    group = []
    for seg in word_segs:
        if group and (seg[1] - group[-1][2] > 15 or seg[2] - group[0][1] > max_frames):
            yield group
            group = []
        group.append(seg)
    if group:
        yield group


# How long the lips stay shut for a p or b: the aligner cannot tell the silent closure of a
# stop after a pause from the pause itself, and bills both to the stop; only its last
# STOP_CLOSURE_S (a typical bilabial closure in read speech, 60-90 ms) is kept as closure.
STOP_CLOSURE_S = 0.08


def gate_silence(phones: list[Phone], db: np.ndarray, threshold: float, offset_frames: int = 0) -> list[Phone]:
    """Relabel as SIL the phones that lie (90% or more) in frames quieter than ``threshold``.

    The phone loop hallucinates phones in pauses and breath noise; the mouth must stay shut there.
    Short bilabial closures are kept: the closure of a p or b is silent by nature (and an m
    after a stop closure is often quiet), and relabelling it would lose the lip closure. A
    long quiet p or b (a stop after a pause, which the aligner stretches over the pause)
    becomes a pause followed by a closure of ``STOP_CLOSURE_S`` that ends where the stop did.
    """
    out = []
    for p in phones:
        if p.name in ("P", "B", "M") and p.end_s - p.start_s <= 0.2:
            out.append(p)
            continue
        a = int(round(p.start_s * 100)) - offset_frames
        b = max(a + 1, int(round(p.end_s * 100)) - offset_frames)
        seg = db[max(0, a) : max(0, b)]
        if len(seg) and np.mean(seg < threshold) >= 0.9:
            if p.name in ("P", "B"):
                cut = p.end_s - STOP_CLOSURE_S
                out.extend([Phone("SIL", p.start_s, cut), Phone(p.name, cut, p.end_s)])
            else:
                out.append(Phone("SIL", p.start_s, p.end_s))
        else:
            out.append(p)
    return out


_STOPS = frozenset({"P", "B", "T", "D", "K", "G"})


def trim_pause_edges(phones: list[Phone], db: np.ndarray, threshold: float) -> list[Phone]:
    """Give the quiet edges of the phones next to a pause back to the pause (as SIL).

    Forced alignment draws no boundary inside a pause that it cannot hear: the
    phone after a pause often starts well inside it, and the one before a pause
    runs on into it (the phone loop does the same, less often). The 10 ms frames quieter than ``threshold`` at such an edge
    (``db``: ``frame_db`` of the whole audio) become silence; a stop after a pause
    keeps at most ``STOP_CLOSURE_S`` of quiet before its burst, the silent closure
    that belongs to it.
    """
    out: list[Phone] = []
    n = len(phones)
    for i, p in enumerate(phones):
        name = p.name.rstrip("012")
        if name == "SIL":
            out.append(p)
            continue
        after_pause = i == 0 or phones[i - 1].end_s < p.start_s - 1e-6 or phones[i - 1].name == "SIL"
        before_pause = i == n - 1 or phones[i + 1].start_s > p.end_s + 1e-6 or phones[i + 1].name == "SIL"
        fa = max(0, int(np.ceil(p.start_s * 100 - 1e-6)))
        fb = min(len(db), int(np.floor(p.end_s * 100 + 1e-6)))
        start, end = p.start_s, p.end_s
        if after_pause:
            k = fa
            while k < fb and db[k] < threshold:
                k += 1
            if k < fb:
                start = max(p.start_s, k / 100 - (STOP_CLOSURE_S if name in _STOPS else 0.0))
        if before_pause:
            k = fb
            while k > fa and db[k - 1] < threshold:
                k -= 1
            if k > fa and k / 100 > start:
                end = min(p.end_s, k / 100)
        if start > p.start_s:
            out.append(Phone("SIL", p.start_s, start))
        out.append(Phone(p.name, start, end))
        if end < p.end_s:
            out.append(Phone("SIL", end, p.end_s))
    return out


# pocketsphinx stamps a phone with the frame whose 25.6 ms analysis window first
# hears it; the sound itself starts about half a frame later. Measured on the
# mouth-timing benchmark: closure onsets came out 15 ms early, and a 5 ms delay
# raised frame accuracy by 1.5 points with a transcript and 0.8 without.
PHONE_DELAY_S = 0.005


def _delayed(phones: list[Phone]) -> list[Phone]:
    return [Phone(p.name, p.start_s + PHONE_DELAY_S, p.end_s + PHONE_DELAY_S) for p in phones]


@dataclass(frozen=True)
class PhoneBatch:
    """Phones of one chunk: everything before ``end_s`` seconds is final."""

    end_s: float
    phones: list[Phone]
    aligned: bool


@dataclass
class Script:
    """A transcript ready for alignment.

    ``words``: pocketsphinx dictionary words, None for a word that cannot be
    read (it cannot be aligned; the chunk holding it falls back to the audio);
    ``breaks``: a clause ends after the word; ``weights``: expected relative
    duration (vowels count twice); ``prons``: the dictionary entries to add.
    """

    words: list[str | None] = field(default_factory=list)
    breaks: list[bool] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    prons: dict[str, str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    # Clips up to this long are first aligned in one piece (at most 90 s in memory).
    whole_clip_s: float = 90.0

    def add(self, phones: list[str] | None, ipa: str) -> None:
        if phones is None:
            self.words.append(None)
            self.unreadable.append(ipa)
            self.weights.append(2.0 * max(1, len(ipa) // 4))
        else:
            name = LEXICON_PREFIX + "-".join(p.lower() for p in phones)
            self.words.append(name)
            self.prons[name] = " ".join(phones)
            self.weights.append(phones_weight(phones))
        self.breaks.append(False)


# Real recordings are never digitally silent, and pocketsphinx's models were
# trained on such recordings: exact zeros between words (synthetic speech,
# gated or edited audio) throw both recognition and alignment off. A fixed,
# seeded -60 dBFS noise floor is added before any analysis.
NOISE_FLOOR_DB: float | None = -60.0


def _transcript_words(recognizer: PhoneRecognizer, text: str) -> tuple[list[str], list[bool]]:
    """Dictionary words of ``text`` and, for each, whether a clause ends after it (punctuation)."""
    tokens = [(m.group(1), bool(m.group(2))) for m in re.finditer(r"([a-z0-9']+)|([.,;:!?]+)", text.lower())]
    known = dict(zip((t for t, _ in tokens if t), recognizer.pronunciations([t for t, _ in tokens if t])))
    words, breaks = [], []
    for token, punct in tokens:
        if token:
            if known[token]:
                words.append(token)
                breaks.append(False)
        elif punct and breaks:
            breaks[-1] = True
    return words, breaks


def split_words(weights: list[float], breaks: list[bool], chunk_speech: list[float]) -> list[int]:
    """Where the words go: the index of the first word of each chunk after the first.

    A pure function: word ``i`` is expected to take time in proportion to
    ``weights[i]`` (its phone count), a chunk holds speech in proportion to
    ``chunk_speech``; each cut goes at the word boundary closest to the chunk
    boundary, moved to a clause boundary (punctuation) within two words.
    """
    w = np.cumsum([0.0] + list(weights))
    w = w / w[-1] if w[-1] > 0 else w
    c = np.cumsum(chunk_speech)
    c = c / c[-1] if len(c) and c[-1] > 0 else c
    cuts = []
    prev = 0
    for frac in c[:-1]:
        k = int(np.argmin(np.abs(w - frac)))
        near = [j for j in range(max(prev + 1, k - 2), min(len(weights), k + 3)) if breaks[j - 1]]
        if near:
            k = min(near, key=lambda j: abs(w[j] - frac))
        k = max(prev, min(len(weights), k))
        cuts.append(k)
        prev = k
    return cuts


def phone_batches(
    samples: np.ndarray,
    recognizer: PhoneRecognizer,
    transcript: str | None = None,
    max_chunk_s: float = 12.0,
    start_s: float = 0.0,
    script: Script | None = None,
    fallback: Callable[[np.ndarray, float, float], list[Phone]] | None = None,
) -> Iterator[PhoneBatch]:
    """Phones chunk by chunk, in time order, lazily (``samples``: 16 kHz mono float32).

    Without a transcript, each chunk (cut at pauses) is recognised by
    pocketsphinx's phone loop ("allphone"). With a transcript, the whole
    clip is first aligned in one piece where it is short enough (alignment
    needs the words of each chunk, which only a whole alignment knows); where
    that fails, the words are shared out over the chunks and each chunk is
    aligned on its own; a chunk whose alignment fails is recognised instead.
    Nothing gives up: every chunk yields phones.

    ``script``: the words to align, already looked up (another language's
    lexicon, ``talkcli.audio.multilingual``), instead of ``transcript``'s
    English words; a None word cannot be aligned. ``fallback(chunk_samples,
    offset_s, pause_db)``: the phones of a chunk that is not aligned, given the
    clip's pause level (default: the phone loop).

    ``start_s`` resumes a job: chunks ending at or before it are skipped
    without being decoded. Chunk boundaries depend only on the samples, so the
    batches after ``start_s`` are the ones an uninterrupted run yields.
    """
    if NOISE_FLOOR_DB is not None:
        samples = with_noise_floor(samples, NOISE_FLOOR_DB)
    db = frame_db(samples)
    threshold = silence_threshold_db(db)
    chunks = speech_chunks(samples, max_chunk_s=max_chunk_s)

    def post(phones: list[Phone]) -> list[Phone]:
        return gate_silence(trim_pause_edges(_delayed(phones), db, threshold), db, threshold)

    def unaligned(c: Chunk) -> list[Phone]:
        if fallback is not None:
            return fallback(samples[c.start : c.end], c.start / ANALYSIS_RATE, threshold)
        return post(recognizer.recognise(samples[c.start : c.end], offset_s=c.start / ANALYSIS_RATE))

    if script is None and transcript:
        script = english_script(recognizer, transcript)
    if script is not None and script.words:
        yield from _aligned_batches(samples, recognizer, script, chunks, start_s, db, threshold, post, unaligned)
        return
    for chunk in chunks:
        if chunk.end / ANALYSIS_RATE <= start_s:
            continue
        yield PhoneBatch(chunk.end / ANALYSIS_RATE, unaligned(chunk), aligned=False)


def _aligned_batches(samples, recognizer, script, chunks, start_s, db, threshold, post, unaligned) -> Iterator[PhoneBatch]:
    """``phone_batches`` with words: the whole clip at once where it can, else chunk by chunk."""
    duration = len(samples) / ANALYSIS_RATE
    words = script.words
    recognizer.add_words(script.prons)
    if duration <= script.whole_clip_s and None not in words:
        phones = _safe_align(recognizer, samples[:], words)  # at most 90 s in memory
        if phones:
            yield PhoneBatch(duration, post(phones), aligned=True)
            return
    speech = [float(np.sum(db[c.start // HOP : -(-c.end // HOP)] >= threshold)) for c in chunks]
    cuts = [0] + split_words(script.weights, script.breaks, speech) + [len(words)]
    for k, chunk in enumerate(chunks):
        if chunk.end / ANALYSIS_RATE <= start_s:
            continue
        mine = words[cuts[k] : cuts[k + 1]]
        phones = None
        if mine and None not in mine:
            # the last resort before the audio-only fallback: any partial word path is used
            phones = _safe_align(recognizer, samples[chunk.start : chunk.end], mine, chunk.start / ANALYSIS_RATE, min_share=0.0)
        if phones is None:
            yield PhoneBatch(chunk.end / ANALYSIS_RATE, unaligned(chunk), aligned=False)
        else:
            yield PhoneBatch(chunk.end / ANALYSIS_RATE, post(phones), aligned=True)


def english_script(recognizer: PhoneRecognizer, text: str) -> Script:
    """English ``text`` as words to align: its dictionary words (cmudict, or derived from a stem)."""
    words, breaks = _transcript_words(recognizer, text)
    return Script(words=list(words), breaks=breaks, weights=[_word_weight(recognizer, w) for w in words])


def _word_weight(recognizer: PhoneRecognizer, word: str) -> float:
    return phones_weight((recognizer.pronunciation(word) or "").split())


def phones_weight(phones: list[str]) -> float:
    """How long a word of these ARPAbet phones takes, relatively: vowels count twice (at least 1)."""
    return float(sum(2.0 if p in _VOWELS else 1.0 for p in phones)) or 1.0


def _safe_align(recognizer: PhoneRecognizer, samples: np.ndarray, words: list[str], offset_s: float = 0.0,
                min_share: float = 0.8) -> list[Phone] | None:
    """Forced alignment, or None where pocketsphinx fails in any way (it returns no segmentation on some inputs)."""
    try:
        return recognizer.align(samples, words, offset_s, min_share)
    except (RuntimeError, TypeError, ValueError):
        return None
