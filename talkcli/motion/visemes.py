"""Phones -> viseme classes -> mouth parameters.

The eight classes are those of the mouth-timing benchmark (silence, closed,
labiodental, rounded, open, mid, dental, other). Mouth parameters are four
numbers in 0..1: jaw opening, lip rounding, lip stretch (spread) and lip press.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("silence", "closed", "labiodental", "rounded", "open", "mid", "dental", "other")
PARAMS = ("jaw", "round", "stretch", "press")

# ARPAbet (pocketsphinx en-us, no stress digits) -> class.
ARPABET_CLASS = {
    "AA": "open", "AE": "open", "AH": "mid", "AO": "rounded", "AW": "open", "AY": "open",
    "B": "closed", "CH": "other", "D": "other", "DH": "dental", "EH": "mid", "ER": "rounded",
    "EY": "mid", "F": "labiodental", "G": "other", "HH": "other", "IH": "mid", "IY": "mid",
    "JH": "other", "K": "other", "L": "other", "M": "closed", "N": "other", "NG": "other",
    "OW": "rounded", "OY": "rounded", "P": "closed", "R": "other", "S": "other", "SH": "other",
    "T": "other", "TH": "dental", "UH": "rounded", "UW": "rounded", "V": "labiodental",
    "W": "rounded", "Y": "other", "Z": "other", "ZH": "other", "SIL": "silence",
}

# Per-phone mouth targets (jaw, round, stretch, press); the class gives the shape,
# the phone refines how far the jaw drops (AA wider than IY, AO more open than UW).
PHONE_TARGET = {
    "SIL": (0.0, 0.0, 0.0, 0.0),
    "P": (0.0, 0.0, 0.0, 1.0), "B": (0.0, 0.0, 0.0, 1.0), "M": (0.0, 0.0, 0.0, 1.0),
    "F": (0.10, 0.0, 0.15, 0.0), "V": (0.10, 0.0, 0.15, 0.0),
    "UW": (0.22, 1.0, 0.0, 0.0), "UH": (0.30, 0.7, 0.0, 0.0), "OW": (0.45, 0.9, 0.0, 0.0),
    "OY": (0.45, 0.8, 0.0, 0.0), "AO": (0.55, 0.75, 0.0, 0.0), "ER": (0.28, 0.55, 0.0, 0.0),
    "W": (0.12, 1.0, 0.0, 0.0),
    "AA": (1.0, 0.0, 0.0, 0.0), "AE": (0.85, 0.0, 0.35, 0.0), "AW": (0.9, 0.3, 0.0, 0.0),
    "AY": (0.85, 0.0, 0.2, 0.0),
    "AH": (0.55, 0.0, 0.1, 0.0), "EH": (0.55, 0.0, 0.35, 0.0), "EY": (0.45, 0.0, 0.5, 0.0),
    "IH": (0.35, 0.0, 0.5, 0.0), "IY": (0.25, 0.0, 0.8, 0.0),
    "TH": (0.22, 0.0, 0.25, 0.0), "DH": (0.22, 0.0, 0.25, 0.0),
    "T": (0.2, 0.0, 0.3, 0.0), "D": (0.2, 0.0, 0.3, 0.0), "N": (0.2, 0.0, 0.3, 0.0),
    "L": (0.28, 0.0, 0.25, 0.0), "S": (0.15, 0.0, 0.45, 0.0), "Z": (0.15, 0.0, 0.45, 0.0),
    "K": (0.3, 0.0, 0.15, 0.0), "G": (0.3, 0.0, 0.15, 0.0), "NG": (0.25, 0.0, 0.15, 0.0),
    "SH": (0.2, 0.6, 0.0, 0.0), "ZH": (0.2, 0.6, 0.0, 0.0), "CH": (0.2, 0.55, 0.0, 0.0),
    "JH": (0.2, 0.55, 0.0, 0.0), "HH": (0.4, 0.0, 0.1, 0.0), "R": (0.25, 0.45, 0.0, 0.0),
    "Y": (0.2, 0.0, 0.5, 0.0),
}


def normalise_phone(name: str) -> str:
    """pocketsphinx names: strip stress digits; fillers (+NOISE+, +BREATH+ ...) count as silence."""
    name = name.strip().upper().rstrip("012")
    if name.startswith("+") or name in ("", "SIL", "<SIL>", "<S>", "</S>"):
        return "SIL"
    return name


# Stressed AH (strut: cup, love) opens the jaw; unstressed AH (schwa) is a neutral, mid mouth.
# pocketsphinx names carry no stress, so "AH1" appears only where the driver marked a strut.
STRUT = "AH1"
STRUT_TARGET = (0.75, 0.0, 0.1, 0.0)


def phone_class(name: str) -> str:
    """Viseme class of an ARPAbet phone; unknown phones are 'other'."""
    if name.strip().upper() == STRUT:
        return "open"
    return ARPABET_CLASS.get(normalise_phone(name), "other")


def phone_target(name: str) -> np.ndarray:
    """Mouth parameters ``(4,) float32`` (jaw, round, stretch, press) for one phone."""
    if name.strip().upper() == STRUT:
        return np.asarray(STRUT_TARGET, dtype=np.float32)
    return np.asarray(PHONE_TARGET.get(normalise_phone(name), PHONE_TARGET["T"]), dtype=np.float32)
