"""espeak-ng text-to-speech through ctypes on the library bundled in the ``espeakng-loader`` wheel.

libespeak-ng keeps one global voice, parameter set and callback per loaded library, so one loaded
copy can synthesize only one text at a time. To use every core, :class:`EspeakEngine` keeps several
*instances*: the library file copied under distinct names, each ``dlopen``-ed separately with its
own globals, used by one thread at a time. Synthesis runs in AUDIO_OUTPUT_SYNCHRONOUS mode:
``espeak_Synth`` returns only after the callback has received all audio and events, which makes each
call self-contained.

The wave generator keeps function-static state (pitch flutter phase, noise and wave phase) that no
API call resets (``espeak_ng_SetRandSeed`` alone does not make the output repeatable), so the same
text came out with different samples, and even lengths, depending on what was spoken before. To make
synthesis deterministic (``VoiceParams.reproducible``) an instance is unloaded (``dlclose``) after
the call and loaded afresh for the next; calls that do not need it keep the library loaded. One
limit remains: copies synthesizing at the same moment occasionally differ slightly from a lone
run (same length and words, the waveform correlated at 0.997; about 1 parallel run in 30, more
often with Kokoro's phonemizer copy loaded). Each copy was checked to unload for real (``dlopen``
with ``RTLD_NOLOAD`` finds none left), so some state shared between copies remains; it was not
found.
``dlopen`` and ``dlclose`` are called as foreign functions so that they, like synthesis, run without
the GIL, beside the event loop.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradium.engines.base import Synthesis, VoiceParams, WordTiming
from gradium.engines.pitch import apply_pitch_factor, slowed_rate_wpm
from gradium.engines.wordalign import WordEvent, align_words

SAMPLE_RATE = 22050

# Constants from speak_lib.h (stable ABI since espeak 1.48).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001  # a PHONEME event per phoneme...
_INITIALIZE_PHONEME_IPA = 0x0002  # ...named in IPA
_INITIALIZE_DONT_EXIT = 0x8000
_INITIALIZE_OPTIONS = _INITIALIZE_DONT_EXIT | _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_RTLD_NOW = 2  # RTLD_LOCAL is 0: each copy keeps its symbols, and so its globals, to itself
_EE_OK = 0
_MIN_RATE_WPM, _MAX_RATE_WPM = 80, 450


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass
class _Collector:
    """What the synth callback gathered during one ``espeak_Synth`` call."""

    chunks: list[bytes] = field(default_factory=list)
    events: list[WordEvent] = field(default_factory=list)
    phonemes: list[tuple[str, float]] = field(default_factory=list)  # (IPA, start s)

    def on_synth(
        self, wav: ctypes._Pointer[ctypes.c_short], numsamples: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if numsamples > 0 and wav:
            self.chunks.append(ctypes.string_at(wav, numsamples * 2))
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            time_s = event.audio_position / 1000  # ms since the start of this espeak_Synth call
            if event.type == _EVENT_WORD:
                self.events.append(WordEvent(event.text_position, event.length, time_s))
            elif event.type == _EVENT_PHONEME:
                self.phonemes.append((event.id.string.decode("utf-8", "replace"), time_s))
            index += 1
        return 0  # 1 would abort synthesis


def phoneme_timings(phonemes: list[tuple[str, float]], duration_s: float) -> list[WordTiming]:
    """Each phoneme runs until the next event; pauses (``_``) and empty names only end the one before."""
    timings: list[WordTiming] = []
    for index, (name, start) in enumerate(phonemes):
        stop = phonemes[index + 1][1] if index + 1 < len(phonemes) else duration_s
        if name and not name.startswith("_") and stop > start:
            timings.append(WordTiming(name, round(start, 4), round(min(stop, duration_s), 4)))
    return timings


_libc = ctypes.CDLL(None)
_libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.dlopen.restype = ctypes.c_void_p
_libc.dlclose.argtypes = [ctypes.c_void_p]
_libc.dlclose.restype = ctypes.c_int


def _bind(lib: ctypes.CDLL) -> None:
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Terminate.restype = ctypes.c_int


def _voice_candidates(name: str, language: str) -> list[str]:
    """The requested voice first, then ever plainer fallbacks that espeak surely knows."""
    base = name.split("+", 1)[0]
    return list(dict.fromkeys([name, base, language, "en"]))


def _set_voice(lib: ctypes.CDLL, voice: VoiceParams, rate_wpm: int) -> None:
    for candidate in _voice_candidates(voice.espeak_voice, voice.language):
        if lib.espeak_SetVoiceByName(candidate.encode()) == _EE_OK:
            break
    else:
        raise RuntimeError(f"espeak-ng knows no voice for {voice.espeak_voice!r}")
    # Setting the voice resets parameters; set every one so no state leaks from a previous call.
    lib.espeak_SetParameter(_PARAM_RATE, min(max(rate_wpm, _MIN_RATE_WPM), _MAX_RATE_WPM), 0)
    lib.espeak_SetParameter(_PARAM_VOLUME, 100, 0)
    lib.espeak_SetParameter(_PARAM_PITCH, min(max(voice.pitch, 0), 99), 0)
    lib.espeak_SetParameter(_PARAM_RANGE, min(max(voice.pitch_range, 0), 99), 0)


class _Instance:
    """One loaded copy of the library; used by one thread at a time."""

    def __init__(self, library: Path, data_path: bytes) -> None:
        self.library = library
        self.data_path = data_path
        self.collector = _Collector()
        self.lib: ctypes.CDLL | None = None
        self.handle = 0
        # One C callback per instance, kept alive as long as the instance: the library must never
        # call into a collected function object.
        self.callback = _CALLBACK(self._on_synth)

    def _on_synth(
        self, wav: ctypes._Pointer[ctypes.c_short], numsamples: int, events: ctypes._Pointer[_Event]
    ) -> int:
        return self.collector.on_synth(wav, numsamples, events)

    def _load(self) -> tuple[ctypes.CDLL, int]:
        handle = _libc.dlopen(str(self.library).encode(), _RTLD_NOW)
        if not handle:
            raise RuntimeError(f"cannot load {self.library}")
        lib = ctypes.CDLL(str(self.library), handle=handle)
        _bind(lib)
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 100, self.data_path, _INITIALIZE_OPTIONS)
        if rate != SAMPLE_RATE:
            _libc.dlclose(handle)
            raise RuntimeError(f"espeak-ng failed to initialise (returned {rate})")
        lib.espeak_SetSynthCallback(self.callback)
        return lib, handle

    def _unload(self) -> None:
        if self.lib is not None:
            self.lib.espeak_Terminate()
            _libc.dlclose(self.handle)
            self.lib = None

    def synthesize(self, text: str, voice: VoiceParams, rate_wpm: int) -> _Collector:
        """Synthesize on a freshly loaded library when ``voice.reproducible``, else on the loaded one.

        Reusing the loaded library skips the load and, while the voice stays the same, the voice
        and dictionary set-up: about two thirds of the cost of a short sentence.
        """
        if voice.reproducible:
            self._unload()
        if self.lib is None:
            self.lib, self.handle = self._load()
        data = text.encode("utf-8") + b"\0"
        self.collector = _Collector()
        try:
            _set_voice(self.lib, voice, rate_wpm)
            buffer = ctypes.create_string_buffer(data, len(data))
            status = self.lib.espeak_Synth(buffer, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        finally:
            if voice.reproducible:
                self._unload()  # the next reproducible call must find no state at all
        collected, self.collector = self.collector, _Collector()
        if status != _EE_OK:
            raise RuntimeError(f"espeak_Synth failed with status {status}")
        return collected


_copies_dir: Path | None = None
_copies_lock = threading.Lock()
_copy_numbers = itertools.count()  # process-wide: no two instances, of any engine, share a library


def _library_copy() -> Path:
    """The first instance in the process loads the wheel's library itself; every later one gets a
    private copy of it.

    ``dlopen`` returns the already loaded library for a path it has seen, so only a file under a
    different name gets its own globals.
    """
    import espeakng_loader  # imported lazily: importing this module must stay cheap

    original = Path(espeakng_loader.get_library_path())
    global _copies_dir
    with _copies_lock:
        index = next(_copy_numbers)
        if index == 0:
            return original
        if _copies_dir is None:
            _copies_dir = Path(tempfile.mkdtemp(prefix="gradium-espeak-"))
            atexit.register(shutil.rmtree, _copies_dir, True)
        copy = _copies_dir / f"libespeak-ng-{index}.so"
        if not copy.exists():
            shutil.copyfile(original, copy)
    return copy


def _data_path() -> bytes:
    import espeakng_loader

    return str(espeakng_loader.get_data_path()).encode()


def default_instances() -> int:
    """One instance per core: synthesis is CPU-bound and runs without the GIL."""
    return max(1, os.cpu_count() or 1)


class EspeakEngine:
    """The default embedded TTS engine: many languages, instant, word timings from WORD events.

    ``instances`` calls can synthesize at the same time, from as many threads; further callers wait
    for a free instance. Instances are created on first use (or by :meth:`prepare`).
    """

    name = "espeak"
    sample_rate = SAMPLE_RATE

    def __init__(self, instances: int = 1) -> None:
        if instances < 1:
            raise ValueError("espeak-ng needs at least one instance")
        self.instances = instances
        self._idle: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(instances):
            self._idle.put(index)
        self._loaded: dict[int, _Instance] = {}

    def prepare(self) -> None:
        """Create every instance's library copy now rather than on a request's time."""
        for index in range(self.instances):
            self._get(index)

    def _get(self, index: int) -> _Instance:
        instance = self._loaded.get(index)
        if instance is None:
            instance = self._loaded[index] = _Instance(_library_copy(), _data_path())
        return instance

    @contextmanager
    def _instance(self) -> Iterator[_Instance]:
        index = self._idle.get()
        try:
            yield self._get(index)
        finally:
            self._idle.put(index)

    def synthesize(self, text: str, voice: VoiceParams) -> Synthesis:
        factor = voice.pitch_factor
        with self._instance() as instance:
            collected = instance.synthesize(text, voice, slowed_rate_wpm(voice.rate_wpm, factor))
        pcm = np.frombuffer(b"".join(collected.chunks), dtype=np.int16).copy()
        words = align_words(text, collected.events, pcm, SAMPLE_RATE)
        phonemes = phoneme_timings(collected.phonemes, len(pcm) / SAMPLE_RATE)
        return apply_pitch_factor(Synthesis(pcm, SAMPLE_RATE, words, phonemes), factor)
