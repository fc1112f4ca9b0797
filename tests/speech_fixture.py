"""Timing of the speech fixture made in tests/conftest.py (importable: conftest modules are not)."""

SPEECH_START_S = 0.8  # the speech fixture: silence, speech, silence
SPEECH_END_S = 2.85
