"""Phone -> viseme class (the benchmark's eight classes) and per-phone mouth targets."""

import numpy as np
import pytest

from talkcli.motion.visemes import ARPABET_CLASS, CLASSES, PARAMS, PHONE_TARGET, normalise_phone, phone_class, phone_target

BENCHMARK = {
    "closed": ["P", "B", "M"],
    "labiodental": ["F", "V"],
    "rounded": ["UW", "OW", "W"],
    "open": ["AA", "AE"],
    "mid": ["IY", "EH"],
    "dental": ["TH", "DH"],
    "silence": ["SIL", "+NOISE+", "+BREATH+", "<sil>", ""],
}


@pytest.mark.parametrize("cls,phones", sorted(BENCHMARK.items()))
def test_benchmark_classes(cls, phones):
    assert [phone_class(p) for p in phones] == [cls] * len(phones)


@pytest.mark.parametrize("raw,expected", [("AA1", "open"), ("iy0", "mid"), ("UW2", "rounded"), (" m ", "closed"), ("ER1", "rounded")])
def test_stress_digits_and_case_are_ignored(raw, expected):
    assert phone_class(raw) == expected


def test_normalise_phone():
    assert normalise_phone("AH0") == "AH"
    assert normalise_phone("+NOISE+") == "SIL"
    assert normalise_phone("</s>") == "SIL"
    assert normalise_phone("ng") == "NG"


def test_unknown_phones_are_other():
    assert phone_class("XX") == "other"
    np.testing.assert_array_equal(phone_target("XX"), np.asarray(PHONE_TARGET["T"], np.float32))


def test_every_arpabet_phone_has_a_valid_class_and_target():
    assert set(ARPABET_CLASS.values()) <= set(CLASSES)
    assert set(ARPABET_CLASS) == set(PHONE_TARGET)  # no phone without a mouth shape
    for name in ARPABET_CLASS:
        t = phone_target(name)
        assert t.shape == (len(PARAMS),) and t.dtype == np.float32
        assert np.all((t >= 0) & (t <= 1))


@pytest.mark.parametrize("p", ["P", "B", "M", "M1"])
def test_closed_phones_press_the_lips(p):
    jaw, rnd, stretch, press = phone_target(p)
    assert press == 1.0 and jaw == 0.0


def test_only_closures_press():
    for name in ARPABET_CLASS:
        assert (phone_target(name)[3] >= 1.0) == (phone_class(name) == "closed")


def test_silence_is_a_closed_relaxed_mouth():
    for p in ("SIL", "+NOISE+", "sil"):
        np.testing.assert_array_equal(phone_target(p), np.zeros(4, np.float32))


def test_jaw_openings_are_ordered():
    jaw = {p: float(phone_target(p)[0]) for p in ("AA", "IY", "AO", "UW", "EH", "M", "F")}
    assert jaw["AA"] > jaw["EH"] > jaw["IY"] > jaw["F"] > jaw["M"] == 0.0
    assert jaw["AO"] > jaw["UW"]
    # Open vowels open the jaw more than any mid vowel.
    open_min = min(phone_target(p)[0] for p, c in ARPABET_CLASS.items() if c == "open")
    mid_max = max(phone_target(p)[0] for p, c in ARPABET_CLASS.items() if c == "mid")
    assert open_min > mid_max


def test_rounded_phones_round_and_spread_phones_stretch():
    assert phone_target("UW")[1] > 0.8 and phone_target("W")[1] > 0.8
    assert phone_target("IY")[2] > phone_target("AA")[2]
    assert phone_target("IY")[1] == 0.0
