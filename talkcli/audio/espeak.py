"""eSpeak NG through ctypes: text -> IPA phones, and speech with exact phone timings.

eSpeak NG (GPL-3.0) is optional: the ``languages`` extra installs the
``espeakng-loader`` wheel, which ships ``libespeak-ng`` 1.52 and its data for
about 100 languages. Nothing here is imported unless a transcript in a language
other than English is given (or the languages benchmark runs), so the default
install's licence chain stays permissive.

The library keeps global state (one voice, one callback), so one ``ESpeak``
object per process serves every call (``espeak()``), under a lock.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from talkcli.errors import EnvironmentProblem

INSTALL_HINT = "pip install 'talkcli[languages]' (eSpeak NG, GPL-3.0)"

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_SENTENCE = 2
_EVENT_END = 5
_EVENT_PHONEME = 7
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_PHONEMES_IPA = 0x02
_TEXTMODE_UTF8 = 1


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # union { int number; const char *name; char string[8]; }
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class ESpeakMissing(EnvironmentProblem):
    """eSpeak NG is not installed (the optional ``languages`` extra)."""


@dataclass(frozen=True)
class TimedPhone:
    """One phone of synthesised speech: IPA, start sample and end sample."""

    ipa: str
    start: int
    end: int


@dataclass(frozen=True)
class Synthesis:
    """Speech made by eSpeak: float32 samples at ``rate`` Hz, its phones in order, and where each
    word starts (``words``: sample index and the word's character span in the text)."""

    samples: np.ndarray
    rate: int
    phones: list[TimedPhone]
    words: list[tuple[int, int, int]]


def available() -> bool:
    """True when the ``languages`` extra (eSpeak NG) is installed."""
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str | None:
    """libespeak-ng's version, or None when it is not installed."""
    if not available():
        return None
    return espeak().version


def count_languages() -> int:
    """How many languages the installed eSpeak NG data holds (its ``*_dict`` files)."""
    import espeakng_loader
    from pathlib import Path

    return len(list(Path(espeakng_loader.get_data_path()).glob("*_dict")))


class ESpeak:
    """The loaded library. Use ``espeak()``, which makes one per process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as e:
            raise ESpeakMissing("eSpeak NG is not installed: transcripts in languages other than English need it",
                                hint=INSTALL_HINT) from e  # fmt: skip
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]  # fmt: skip
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), options)
        if rate <= 0:
            raise ESpeakMissing("eSpeak NG did not start (its data folder may be damaged)", hint=f"reinstall: {INSTALL_HINT}")
        self.rate = rate
        self.version = lib.espeak_Info(None).decode("utf-8", "replace")
        self._lib = lib
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        self._callback = _CALLBACK(self._on_synth)  # kept alive as long as the library may call it
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    def _on_synth(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            self._events.append((e.type, e.sample, e.text_position, e.length, bytes(e.id)))
            i += 1
        return 0

    def _set_voice(self, voice: str) -> None:
        if voice != self._voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            self._voice = voice

    def has_voice(self, voice: str) -> bool:
        with self._lock:
            try:
                self._set_voice(voice)
            except ValueError:
                return False
            return True

    def phonemize(self, text: str, voice: str) -> list[list[str]]:
        """IPA of ``text`` spoken by ``voice`` (a language code such as ``es``): one list of
        words per clause, each word a string of IPA (stress marks included)."""
        with self._lock:
            self._set_voice(voice)
            buf = ctypes.create_string_buffer(text.encode("utf-8"))
            ptr = ctypes.c_char_p(ctypes.addressof(buf))
            clauses = []
            while ptr.value:
                out = self._lib.espeak_TextToPhonemes(ctypes.byref(ptr), _TEXTMODE_UTF8, _PHONEMES_IPA)
                words = (out or b"").decode("utf-8", "replace").split()
                if words:
                    clauses.append(words)
            return clauses

    def synthesize(self, text: str, voice: str, rate_wpm: int | None = None, pitch: int | None = None,
                   pitch_range: int | None = None) -> Synthesis:
        """Speech for ``text`` (``voice``: a language code, optionally ``+variant``), with the
        phone events eSpeak reports: each phone starts at its event's sample."""
        with self._lock:
            self._set_voice(voice)
            for param, value in ((_RATE, rate_wpm), (_PITCH, pitch), (_RANGE, pitch_range)):
                if value is not None:
                    self._lib.espeak_SetParameter(param, int(value), 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8")
            buf = ctypes.create_string_buffer(data)
            self._lib.espeak_Synth(buf, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
            chunks, events = self._chunks, self._events
            self._chunks, self._events = [], []
            self._voice = None  # parameters persist per voice selection: reset them next time
        samples = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
        n = len(samples)
        starts = [(s, i.split(b"\0")[0].decode("utf-8", "replace")) for t, s, _, _, i in events if t == _EVENT_PHONEME]
        phones = [TimedPhone(ipa, s, starts[k + 1][0] if k + 1 < len(starts) else n) for k, (s, ipa) in enumerate(starts)]
        words = [(s, pos, length) for t, s, pos, length, _ in events if t == _EVENT_WORD]
        return Synthesis(samples, self.rate, [p for p in phones if p.end > p.start or p.ipa], words)


_instance: ESpeak | None = None
_instance_lock = threading.Lock()


def espeak() -> ESpeak:
    """The process's eSpeak NG; ``ESpeakMissing`` when the ``languages`` extra is not installed."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = ESpeak()
        return _instance
