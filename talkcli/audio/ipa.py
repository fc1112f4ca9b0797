"""IPA phones -> the ARPAbet phones the rest of ``talk`` speaks.

eSpeak NG writes any language's pronunciation in IPA. Everything downstream of
the driver (viseme classes, mouth targets, cues, the aligner's acoustic models)
works in the ARPAbet phones of pocketsphinx's en-us models, so each IPA sound
maps to the ARPAbet phone nearest to it in how it looks on the lips first and
how it sounds second: Spanish β (lips nearly closed) is B, French y (rounded
front vowel) is UW, Japanese ɸ is F, a flap ɾ is D. Stress, length, tone and
most diacritics do not change the mouth's class and are dropped; aspiration
after a stop (Mandarin ``th``) is part of the stop.

``arpabet(word)`` gives the phones of one IPA word; None when the word holds a
sound this table does not know, or a language switch (eSpeak reads a kanji in a
Japanese text as "(en)chinese letter(ja)": such a word cannot be aligned).
"""

from __future__ import annotations

import re
import unicodedata

# Several IPA symbols that make one phone (longest first when matching).
_UNITS = {
    "t͡ʃ": "CH", "tʃ": "CH", "d͡ʒ": "JH", "dʒ": "JH", "t͡s": "T S", "ts": "T S", "d͡z": "D Z", "dz": "D Z",
    "t͡ɕ": "CH", "tɕ": "CH", "d͡ʑ": "JH", "dʑ": "JH", "ʈ͡ʂ": "CH", "ʈʂ": "CH", "ɖ͡ʐ": "JH", "ɖʐ": "JH",
    "p͡f": "P F", "pf": "P F",
    "aɪ": "AY", "ai": "AY", "aʊ": "AW", "au": "AW", "ɔɪ": "OY", "ɔʏ": "OY", "oɪ": "OY", "eɪ": "EY",
    "oʊ": "OW", "əʊ": "OW",
}
_SINGLE = {
    # vowels
    "a": "AA", "ɑ": "AA", "ɒ": "AA", "æ": "AE", "ɐ": "AH", "ə": "AH", "ɜ": "ER", "ɚ": "ER", "ɝ": "ER",
    "ʌ": "AH", "ɛ": "EH", "e": "EY", "i": "IY", "ɪ": "IH", "ɨ": "IH", "ɘ": "AH", "ɵ": "ER", "ɤ": "AH",
    "o": "OW", "ɔ": "AO", "u": "UW", "ʊ": "UH", "ɯ": "UW", "ʉ": "UW", "y": "UW", "ʏ": "UH",
    "ø": "OW", "œ": "AO", "ɶ": "AO", "ɞ": "AO",
    # consonants
    "p": "P", "b": "B", "m": "M", "ɱ": "M", "β": "B", "ɸ": "F", "f": "F", "v": "V", "ʋ": "V",
    "θ": "TH", "ð": "DH", "t": "T", "d": "D", "ʈ": "T", "ɖ": "D", "n": "N", "ɳ": "N", "ɲ": "N",
    "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "ɕ": "SH", "ʑ": "ZH", "ʂ": "SH", "ʐ": "ZH",
    "k": "K", "ɡ": "G", "g": "G", "c": "K", "ɟ": "G", "q": "K", "ɢ": "G", "ŋ": "NG", "ɴ": "NG",
    "x": "HH", "ɣ": "G", "χ": "HH", "ʁ": "R", "ç": "HH", "ʝ": "Y", "h": "HH", "ɦ": "HH", "ħ": "HH",
    "r": "R", "ɾ": "D", "ɽ": "D", "ɹ": "R", "ɻ": "R", "ʀ": "R", "l": "L", "ɫ": "L", "ʎ": "L", "ɭ": "L",
    "ʟ": "L", "ɬ": "L", "j": "Y", "w": "W", "ɥ": "W", "ɰ": "W",
}
_DROP = set("ˈˌːˑ.‿-|_'") | set("ʰʲʷˠˤⁿˡᵝ̃") | set("˥˦˧˨˩") | set("0123456789")
_STOPS = {"P", "B", "T", "D", "K", "G", "CH", "JH"}
_SWITCH = re.compile(r"\([a-z-]+\)")


def _symbols(word: str) -> str:
    """``word`` with stress, length, tones and combining marks removed (the tie bar kept)."""
    out = []
    for ch in unicodedata.normalize("NFD", word):
        if ch == "\u0361":  # tie bar: part of an affricate's symbol
            out.append(ch)
        elif ch in _DROP or unicodedata.combining(ch):
            continue
        else:
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def arpabet(word: str) -> list[str] | None:
    """ARPAbet phones of one IPA word (eSpeak's output); None where it cannot be read."""
    if _SWITCH.search(word):
        return None
    s = _symbols(word)
    phones: list[str] = []
    i = 0
    while i < len(s):
        for size in (3, 2):
            unit = s[i : i + size]
            if len(unit) == size and unit in _UNITS:
                phones.extend(_UNITS[unit].split())
                i += size
                break
        else:
            ch = s[i]
            i += 1
            if ch == "h" and phones and phones[-1] in _STOPS:
                continue  # aspiration (eSpeak's Mandarin "th", "tɕh"): part of the stop
            if ch not in _SINGLE:
                return None
            phones.append(_SINGLE[ch])
    # Doubled consonants (Italian "tt", Japanese "nn") are one longer sound.
    return [p for k, p in enumerate(phones) if k == 0 or p != phones[k - 1] or p in _VOWEL_PHONES] or None


_VOWEL_PHONES = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
