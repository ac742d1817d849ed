"""Speech with phoneme and word timing from espeak-ng, through its C library.

The `espeak-ng --pho` timing output needs MBROLA, so the library is driven directly with
ctypes: synchronous synthesis hands back audio chunks together with WORD and PHONEME
events, each stamped with the sample it falls on. Timings therefore refer to the very
samples returned, which is what lets the talking face's lips be driven from them.

espeak-ng keeps global state (one voice, one callback): the library is initialised once
per process (l2s.data.espeak, which also phonemizes transcripts) and every synthesis runs
under its lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import re
from dataclasses import dataclass

import numpy as np

from l2s.data import espeak as library
from l2s.data.alignment import Span
from l2s.data.espeak import require_espeak  # noqa: F401  (part of this module's interface)

log = logging.getLogger(__name__)

# speak_lib.h constants
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_PITCH = 3
_PARAM_RANGE = 4

PAUSE = "_"
_SILENCE_INT16 = 8  # |sample| at or below this (-72 dBFS) counts as silence


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),  # phoneme name, NUL-terminated unless all 8 bytes used
    ]


class _Event(ctypes.Structure):
    """espeak_EVENT from speak_lib.h (the enum `type` is an int)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character offset of the word
        ("length", ctypes.c_int),  # word length in characters
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # sample index within the message
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice with its prosody settings."""

    name: str
    variant: str | None = None
    pitch: int = 50
    rate: int = 175
    range: int = 50

    @property
    def spec(self) -> str:
        """The name espeak_SetVoiceByName takes, e.g. "en-us+m3"."""
        return f"{self.name}+{self.variant}" if self.variant else self.name


@dataclass
class TimedSpeech:
    """Synthesized audio with phoneme and word spans on the same time axis."""

    audio: np.ndarray
    sample_rate: int
    phonemes: list[Span]
    words: list[Span]

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class _RawEvent:
    kind: int
    text_position: int
    sample: int
    label: str


class _Collector:
    """Receives the callbacks of one synthesis."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.events: list[_RawEvent] = []


class _Engine:
    def __init__(self, lib: ctypes.CDLL, sample_rate: int) -> None:
        self.lib = lib
        self.sample_rate = sample_rate
        self.collector: _Collector | None = None
        # Kept on the instance: ctypes frees a callback whose Python object is collected.
        self.callback = _CALLBACK(self._on_synth)
        lib.espeak_SetSynthCallback(self.callback)

    def _on_synth(self, wav, n_samples: int, events) -> int:
        col = self.collector
        if col is None:
            return 0
        if wav and n_samples > 0:
            col.chunks.append(np.ctypeslib.as_array(wav, (n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type in (_EVENT_WORD, _EVENT_PHONEME):
                col.events.append(
                    _RawEvent(
                        kind=ev.type,
                        text_position=ev.text_position,
                        sample=self._sample_of(ev),
                        label=_phoneme_name(ev) if ev.type == _EVENT_PHONEME else "",
                    )
                )
            i += 1
        return 0

    def _sample_of(self, ev: _Event) -> int:
        # `sample` is exact but documented "internal use"; fall back to the millisecond
        # audio_position if the two ever disagree.
        from_ms = ev.audio_position * self.sample_rate / 1000.0
        if 0 <= ev.sample and abs(ev.sample - from_ms) <= self.sample_rate / 1000.0 + 1:
            return int(ev.sample)
        return int(round(from_ms))


def _phoneme_name(ev: _Event) -> str:
    raw = bytes(ev.id.string)  # ctypes stops at the first NUL
    return raw.decode("utf-8", errors="ignore").strip()


_ENGINE: _Engine | None = None
_LOCK = library.LOCK


def _engine() -> _Engine:
    """The process-wide synthesis engine; callers hold _LOCK."""
    global _ENGINE
    if _ENGINE is None:
        lib = library.library()
        lib.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.lib.espeak_SetParameter.restype = ctypes.c_int
        lib.lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.lib.espeak_SetSynthCallback.restype = None
        lib.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.lib.espeak_Synth.restype = ctypes.c_int
        lib.lib.espeak_Synchronize.restype = ctypes.c_int
        _ENGINE = _Engine(lib.lib, lib.sample_rate)
    return _ENGINE


def sample_rate() -> int:
    """The rate espeak-ng synthesizes at (22050 Hz for its own voices)."""
    with _LOCK:
        return _engine().sample_rate


def _set_voice(eng: _Engine, voice: Voice) -> None:
    if eng.lib.espeak_SetVoiceByName(voice.spec.encode()) != 0:
        raise ValueError(library.voice_problem(voice.spec) or f"espeak-ng refused voice {voice.spec!r}")
    for param, value, lo, hi in (
        (_PARAM_RATE, voice.rate, 80, 450),
        (_PARAM_PITCH, voice.pitch, 0, 100),
        (_PARAM_RANGE, voice.range, 0, 100),
    ):
        if not lo <= value <= hi:
            raise ValueError(f"voice {voice}: value {value} outside {lo}..{hi}")
        eng.lib.espeak_SetParameter(param, int(value), 0)


def synthesize(text: str, voice: Voice, seed: int | None = None) -> TimedSpeech:
    """Speak `text` with `voice`; return the audio and its phoneme and word spans.

    Phoneme spans are contiguous and cover the whole audio: each ends where the next begins,
    the last at the audio's end, gaps labelled "_". A word's first phoneme starts at the
    word's own event, which can precede the phoneme's event by the silent closure of a stop:
    that silence belongs to the stop (the lips of /b/ close there), not to the previous word.

    Some voice variants (f2, f3, ...) draw their breath noise from the C library's rand(),
    which anything else in the process may also draw from: `seed` seeds it right before
    synthesis, so that the same call gives the same audio in every run.
    """
    if not text.strip():
        raise ValueError("nothing to synthesize: empty text")
    data = text.encode("utf-8")
    with _LOCK:
        eng = _engine()
        _set_voice(eng, voice)
        if library.library().phonemized:
            # after some texts of the phonemizer (espeak_TextToPhonemes) the next synthesis
            # drops its first word's event: a throwaway one takes that (measured: the second
            # synthesis is whole). Never in the corpus stage, whose process only synthesises
            eng.lib.espeak_Synth(b".", 2, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            eng.lib.espeak_Synchronize()
            library.library().phonemized = False
        col = _Collector()
        eng.collector = col
        if seed is not None:
            _libc().srand(ctypes.c_uint(seed & 0xFFFFFFFF))
        try:
            err = eng.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            eng.lib.espeak_Synchronize()
        finally:
            eng.collector = None
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed with error {err} for {text!r}")
        sr = eng.sample_rate
    pcm = np.concatenate(col.chunks) if col.chunks else np.zeros(0, np.int16)
    audio = (pcm.astype(np.float32) / 32768.0).clip(-1.0, 1.0)
    phonemes, words = _spans(text, col.events, _last_sound(pcm), len(audio), sr)
    return TimedSpeech(audio=audio, sample_rate=sr, phonemes=phonemes, words=words)


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def _word_index(text: str) -> list[tuple[int, int, str]]:
    """(start, end, word) character ranges of the whitespace-separated words of `text`."""
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]


def _last_sound(pcm: np.ndarray) -> int:
    """Index just past the last sample that is not (near) digital silence."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > _SILENCE_INT16)
    return int(loud[-1]) + 1 if loud.size else 0


def _spans(
    text: str, events: list[_RawEvent], last_sound: int, n_samples: int, sr: int
) -> tuple[list[Span], list[Span]]:
    tokens = _word_index(text)
    # Boundaries in samples: (start, label, token index or -1). Event order is kept as
    # espeak-ng emits it: a WORD event precedes the phonemes of its word.
    marks: list[tuple[int, str, int]] = []
    token = -1
    word_start: int | None = None
    for ev in events:
        s = min(max(ev.sample, 0), n_samples)
        if ev.kind == _EVENT_WORD:
            pos = ev.text_position - 1
            hit = [i for i, (a, b, _) in enumerate(tokens) if a <= pos < b]
            token = hit[0] if hit else min(token + 1, len(tokens) - 1)
            word_start = s
            continue
        label = ev.label or PAUSE
        if word_start is not None and label == PAUSE and s > word_start:
            word_start = None  # a real pause inside the word's lead-in keeps its silence
        if word_start is not None and label != PAUSE:
            # The first sounding phoneme of a word takes over the silence since the WORD
            # event; at the utterance's start that silence stays a pause.
            if any(m[1] != PAUSE for m in marks):
                s = min(s, word_start)
            word_start = None
        marks.append((s, label, token if label != PAUSE else -1))

    if not marks or marks[0][0] > 0:
        marks.insert(0, (0, PAUSE, -1))
    # Some voices (Spanish final vowels) fade to exact zeros before the closing pause event;
    # the silence is a pause, so the last sounding phoneme ends where the sound does.
    last = max((i for i, m in enumerate(marks) if m[1] != PAUSE), default=None)
    if last is not None and marks[last][0] < last_sound:
        nxt = marks[last + 1][0] if last + 1 < len(marks) else n_samples
        if last_sound < nxt:
            marks.insert(last + 1, (last_sound, PAUSE, -1))
    bounds = [m[0] for m in marks] + [n_samples]
    # Times must not run backwards, even if an event came out of order.
    bounds = list(np.maximum.accumulate(bounds))

    phonemes: list[Span] = []
    owner: list[int] = []
    for (_, label, tok), a, b in zip(marks, bounds[:-1], bounds[1:]):
        if b <= a:
            continue  # zero-length marks (tone or boundary markers) carry no time
        if label == PAUSE and phonemes and phonemes[-1].label == PAUSE:
            phonemes[-1] = Span(PAUSE, phonemes[-1].start, b / sr)
            continue
        phonemes.append(Span(label, a / sr, b / sr))
        owner.append(tok)

    words: list[Span] = []
    for i, (_, _, word) in enumerate(tokens):
        own = [p for p, t in zip(phonemes, owner) if t == i]
        if own:
            words.append(Span(word, own[0].start, own[-1].end))
    if len(words) != len(tokens):
        log.debug("espeak-ng gave timing for %d of %d words in %r", len(words), len(tokens), text)
    return phonemes, words
