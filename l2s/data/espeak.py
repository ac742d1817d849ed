"""The espeak-ng C library, loaded once per process: voices and IPA phonemes of text.

The corpus synthesises speech through the same library (l2s.corpus.espeak); both share
one initialised instance and one lock, because espeak-ng keeps global state (one voice,
one callback).
"""

from __future__ import annotations

import ctypes
import difflib
import functools
import re
import threading

# Tried in order; a test swaps these to simulate a machine without espeak-ng.
_LIB_CANDIDATES: tuple[str, ...] = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak-ng.dylib")
INSTALL_HINT = "apt-get install espeak-ng"

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000  # report a missing data directory instead of exit()ing the process
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
SEPARATOR = "_"  # put between the phonemes of a word by espeak_TextToPhonemes

LOCK = threading.RLock()


class _Voice(ctypes.Structure):
    """espeak_VOICE from speak_lib.h."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),  # (priority byte, name NUL)*, then NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class Library:
    """The initialised library and the rate it synthesises at."""

    def __init__(self, lib: ctypes.CDLL, sample_rate: int):
        self.lib, self.sample_rate = lib, sample_rate
        # espeak_TextToPhonemes ran since the last synthesis (l2s.corpus.espeak.synthesize
        # must settle the translator first)
        self.phonemized = False


_LIBRARY: Library | None = None


def _load() -> ctypes.CDLL:
    errors = []
    for name in _LIB_CANDIDATES:
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append(f"{name}: {e}")
    raise RuntimeError(
        "espeak-ng is not installed (could not load libespeak-ng). "
        f"Install it with: {INSTALL_HINT}\n" + "\n".join(errors)
    )


def library() -> Library:
    """The process-wide espeak-ng library, initialised on first use; callers hold LOCK."""
    global _LIBRARY
    if _LIBRARY is None:
        lib = _load()
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        options = _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, options)
        if rate <= 0:
            raise RuntimeError(
                f"espeak-ng failed to initialise (its data files may be missing); reinstall with: {INSTALL_HINT}"
            )
        _LIBRARY = Library(lib, rate)
    return _LIBRARY


def require_espeak() -> None:
    """Raise RuntimeError with the install command if espeak-ng cannot be used."""
    with LOCK:
        library()


_NAME = re.compile(r"[a-z][a-z0-9-]+")


@functools.lru_cache(maxsize=1)
def voices() -> frozenset[str]:
    """Every name espeak_SetVoiceByName takes: voice files (`gmw/en-US` as `en-us`) and
    the language codes the voices speak (`en`, `cmn-latn-pinyin`, ...)."""
    with LOCK:
        lib = library().lib
        names: set[str] = set()
        table = lib.espeak_ListVoices(None)
        i = 0
        while table[i]:
            v = table[i].contents
            if v.name:
                names.add(v.name.decode().lower())
            if v.identifier:
                names.add(v.identifier.decode().rsplit("/", 1)[-1].lower())
            raw = ctypes.string_at(v.languages, 256) if v.languages else b""
            # (priority byte, language name, NUL) repeated, ended by an empty name
            k = 0
            while k < len(raw) and raw[k] != 0:
                end = raw.index(b"\0", k + 1)
                names.add(raw[k + 1 : end].decode(errors="ignore").lower())
                k = end + 1
            i += 1
    return frozenset(n for n in names if _NAME.fullmatch(n))


def voice_problem(voice: str) -> str | None:
    """Why espeak-ng cannot phonemize with `voice` (with the closest voices), or None."""
    known = voices()
    base = voice.split("+", 1)[0].lower()
    if base in known:
        return None
    stem = re.split(r"[_\W]", base)[0]
    close = ([stem] if stem in known else []) + difflib.get_close_matches(base, sorted(known), n=4, cutoff=0.5)
    near = f"; closest: {', '.join(close)}" if close else ""
    return f"espeak-ng has no voice {voice!r}{near} (all: espeak-ng --voices)"


_SWITCH = re.compile(r"\([a-z-]+\)")  # "(en)": espeak-ng switched language for a word


def ipa_words(text: str, voice: str) -> list[list[str]]:
    """The IPA phonemes of `text` as espeak-ng reads it with `voice`: one list of phoneme
    strings (with their stress, length and tone marks) per spoken word."""
    data = text.encode("utf-8")
    words: list[list[str]] = []
    with LOCK:
        library().phonemized = True
        lib = library().lib
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(voice_problem(voice) or f"espeak-ng refused voice {voice!r}")
        buf = ctypes.c_char_p(data)
        ptr = ctypes.pointer(buf)
        mode = _PHONEMES_IPA | (ord(SEPARATOR) << 8)
        while ptr.contents.value:  # one call per clause; the pointer moves on
            out = lib.espeak_TextToPhonemes(ptr, _CHARS_UTF8, mode)
            for word in _SWITCH.sub("", (out or b"").decode("utf-8", errors="ignore")).split():
                phones = [p for p in word.split(SEPARATOR) if p]
                if phones:
                    words.append(phones)
    return words
