"""Transcripts in any language eSpeak NG knows: words -> phones -> forced alignment.

A transcript in Spanish, Japanese (kana) or Mandarin becomes timed phones in
three steps, with no acoustic model of that language:

1. eSpeak NG (the ``languages`` extra) turns the text into IPA, word by word,
   the way a speaker of the language reads it (numbers and abbreviations
   included);
2. each IPA word becomes ARPAbet phones (``talkcli.audio.ipa``), the nearest
   sounds of pocketsphinx's en-us models;
3. pocketsphinx aligns those words to the speech, chunk by chunk, exactly as it
   aligns English (``phone_batches``). Where a stretch cannot be aligned, it
   falls back, for that stretch only, to the language-agnostic acoustic driver.

Measured against the alternative the issue named (DTW between the speech and
eSpeak's own rendering of the text): see the README's "Languages" section.

``Lexicon(lang).script(text)`` also says what it could not read: words with a
sound outside the IPA table, and in Japanese the kanji (eSpeak NG reads kana
only).
"""

from __future__ import annotations

import re
import unicodedata

from talkcli.audio.ipa import arpabet
from talkcli.audio.phonemes import Script
from talkcli.errors import UsageError

# Language codes users write -> eSpeak NG voice names, where they differ.
_ALIASES = {"zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-tw": "cmn", "zh-hant": "cmn", "zh-hk": "yue",
            "jp": "ja", "pt-pt": "pt", "gr": "el"}  # fmt: skip

# Scripts a transcript in the language is written in (Unicode character names start with them).
_SCRIPTS = {
    "ja": ("HIRAGANA", "KATAKANA", "CJK"), "cmn": ("CJK",), "yue": ("CJK",), "ko": ("HANGUL",),
    "ru": ("CYRILLIC",), "uk": ("CYRILLIC",), "bg": ("CYRILLIC",), "sr": ("CYRILLIC",), "be": ("CYRILLIC",),
    "mk": ("CYRILLIC",), "el": ("GREEK",), "ar": ("ARABIC",), "fa": ("ARABIC",), "ur": ("ARABIC",),
    "he": ("HEBREW",), "hi": ("DEVANAGARI",), "mr": ("DEVANAGARI",), "ne": ("DEVANAGARI",), "th": ("THAI",),
    "ka": ("GEORGIAN",), "hy": ("ARMENIAN",), "bn": ("BENGALI",), "ta": ("TAMIL",),
}  # fmt: skip
_LATIN = ("LATIN",)

# The commonest English words: about 40% of English running text, almost none of other languages'.
_ENGLISH_COMMON = frozenset(
    "the of and to in is was that it for on with as his he be at by i this had not are but from or have an they "
    "which you were her she there would their we him been has when who will more no if out so said what up its "
    "about into than them can only other new some could time these two may then do first any my now such like our "
    "over man me even most made after also did many before must through back years where much your way well down "
    "should because each just those people how too little state good very make world still own see men work long "
    "get here between both life being under never day same another know while last might us great old year off "
    "come since against go came right used take three".split()
)


def _code(lang: str) -> str:
    """``pt_BR`` -> ``pt-br``; an alias -> eSpeak NG's name (``zh`` -> ``cmn``)."""
    code = lang.strip().lower().replace("_", "-")
    return _ALIASES.get(code, code)


def voice_for(lang: str) -> str:
    """The eSpeak NG voice for a language code (``es``, ``pt-BR``, ``zh``); UsageError when it has none."""
    from talkcli.audio.espeak import espeak

    code = _code(lang)
    engine = espeak()
    for candidate in (code, _code(code.split("-")[0])):
        if candidate and engine.has_voice(candidate):
            return candidate
    raise UsageError(f"eSpeak NG has no language {lang!r}", hint="use an ISO 639 code such as es, fr, de, it, pt, ja, cmn")


def script_counts(text: str) -> dict[str, int]:
    """Letters of ``text`` per Unicode script (the first word of each letter's name: LATIN, CJK ...)."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "UNKNOWN").split()[0]
            counts[name] = counts.get(name, 0) + 1
    return counts


def check_script(text: str, lang: str) -> None:
    """UsageError when most of ``text``'s letters are in a script the language is not written in."""
    code = _code(lang)
    expected = _SCRIPTS.get(code, _SCRIPTS.get(code.split("-")[0], _LATIN))
    counts = script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return
    fitting = sum(n for s, n in counts.items() if s in expected)
    if fitting < 0.5 * total:
        main = max(counts, key=counts.get).title()
        raise UsageError(f"the transcript is written in {main} script, which does not fit --lang {lang}",
                         hint="pass the language the transcript is written in with --lang (e.g. --lang ja, --lang ru)")  # fmt: skip


ENGLISH_SHARE_MIN = 0.12


def english_share(text: str) -> tuple[int, float]:
    """(number of words, share of them among the commonest English words) of ``text``."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    if not words:
        return 0, 0.0
    return len(words), sum(w in _ENGLISH_COMMON for w in words) / len(words)


def check_english(text: str) -> None:
    """UsageError for an English transcript (the default ``--lang en``) that does not read as English:
    aligned as English words, it would keep the lips shut through seconds of clear speech."""
    if looks_english(text) is False:
        n, share = english_share(text)
        raise UsageError(f"the transcript does not read as English (only {share:.0%} of its {n} words are common English words)",
                         hint="pass its language with --lang (e.g. --lang es); other languages need the languages extra")  # fmt: skip


def looks_english(text: str) -> bool | None:
    """True / False for a transcript of 8 words or more; None when shorter. English running text has
    22-65% of its words among the commonest 200 (the 30 sentences of the mouth-timing bench), Spanish,
    French, German, Italian and Portuguese sentences 0-7%."""
    n, share = english_share(text)
    if n < 8:
        return None
    return share >= ENGLISH_SHARE_MIN


# Longer clips go to the aligner chunk by chunk from the start: in one piece, pocketsphinx's default
# beams lose the path on a 43 s Spanish clip and the wide-beam retry costs 2 s of CPU (16x real time
# in all, against 30x chunk by chunk, with the same closure recall on the languages bench).
WHOLE_CLIP_S = 15.0

_KANJI = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")


class Lexicon:
    """Text in one language -> words to align (eSpeak NG's pronunciations)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.voice = voice_for(lang)

    def script(self, text: str) -> Script:
        from talkcli.audio.espeak import espeak

        out = Script(whole_clip_s=WHOLE_CLIP_S)
        for clause in espeak().phonemize(text, self.voice):
            for ipa in clause:
                out.add(arpabet(ipa), ipa)
            if out.breaks:
                out.breaks[-1] = True
        return out

    def notes(self, text: str, script: Script) -> list[str]:
        """Warnings a user should read before trusting the timing."""
        notes = []
        if self.voice == "ja" and _KANJI.search(text):
            n = len(_KANJI.findall(text))
            notes.append(f"the Japanese transcript has {n} kanji: eSpeak NG reads kana only, so the stretches "
                         "with kanji follow the audio instead (write the transcript in kana for exact timing)")  # fmt: skip
        elif script.unreadable:
            notes.append(f"{len(script.unreadable)} of {len(script.words)} words could not be turned into phones "
                         f"(e.g. {script.unreadable[0]!r}); the stretches holding them follow the audio")  # fmt: skip
        return notes
