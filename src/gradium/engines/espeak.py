"""espeak-ng text-to-speech through ctypes on the library bundled in the ``espeakng-loader`` wheel.

libespeak-ng keeps one global voice, parameter set and callback per process, so every call into it
happens under ``_LOCK``. Synthesis runs in AUDIO_OUTPUT_SYNCHRONOUS mode: ``espeak_Synth`` returns
only after the callback has received all audio and events, which makes each call self-contained.

The wave generator keeps function-static state (pitch flutter phase, noise and wave phase) that no
API call resets, so the same text came out with different samples, and even lengths, depending on
what was spoken before. To make synthesis deterministic the library is unloaded (``dlclose``) after
every call and loaded afresh for the next; that costs about 3 ms per call.
"""

from __future__ import annotations

import _ctypes
import ctypes
import threading
from dataclasses import dataclass, field

import numpy as np

from gradium.engines.base import Synthesis, VoiceParams
from gradium.engines.pitch import apply_pitch_factor, slowed_rate_wpm
from gradium.engines.wordalign import WordEvent, align_words

SAMPLE_RATE = 22050

# Constants from speak_lib.h (stable ABI since espeak 1.48).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
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


_LOCK = threading.Lock()
_lib: ctypes.CDLL | None = None
_collector = _Collector()


def _on_synth(wav: ctypes._Pointer[ctypes.c_short], numsamples: int, events: ctypes._Pointer[_Event]) -> int:
    if numsamples > 0 and wav:
        _collector.chunks.append(ctypes.string_at(wav, numsamples * 2))
    index = 0
    while events[index].type != _EVENT_LIST_TERMINATED:
        event = events[index]
        if event.type == _EVENT_WORD:
            time_s = event.audio_position / 1000  # ms since the start of this espeak_Synth call
            _collector.events.append(WordEvent(event.text_position, event.length, time_s))
        index += 1
    return 0  # 1 would abort synthesis


# Kept at module level so the C library never calls into a collected function object.
_CALLBACK_REF = _CALLBACK(_on_synth)


def _load() -> ctypes.CDLL:
    """Load and initialise the library once per process (callers hold ``_LOCK``)."""
    global _lib
    if _lib is not None:
        return _lib
    import espeakng_loader  # imported lazily: importing this module must stay cheap

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
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
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Terminate.restype = ctypes.c_int
    data_path = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 100, data_path, _INITIALIZE_DONT_EXIT)
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"espeak-ng failed to initialise (returned {rate})")
    lib.espeak_SetSynthCallback(_CALLBACK_REF)
    _lib = lib
    return lib


def _unload() -> None:
    """Drop the library so that its static state starts from zero next time (callers hold ``_LOCK``)."""
    global _lib
    if _lib is None:
        return
    lib, _lib = _lib, None
    lib.espeak_Terminate()
    _ctypes.dlclose(lib._handle)


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


def _synth_raw(text: str, voice: VoiceParams, rate_wpm: int) -> tuple[np.ndarray, list[WordEvent]]:
    global _collector
    data = text.encode("utf-8") + b"\0"
    with _LOCK:
        lib = _load()
        _set_voice(lib, voice, rate_wpm)
        _collector = _Collector()
        buffer = ctypes.create_string_buffer(data, len(data))
        try:
            status = lib.espeak_Synth(buffer, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        finally:
            _unload()
        collected = _collector
        _collector = _Collector()
    if status != _EE_OK:
        raise RuntimeError(f"espeak_Synth failed with status {status}")
    pcm = np.frombuffer(b"".join(collected.chunks), dtype=np.int16).copy()
    return pcm, collected.events


class EspeakEngine:
    """The default embedded TTS engine: many languages, instant, word timings from WORD events."""

    name = "espeak"
    sample_rate = SAMPLE_RATE

    def synthesize(self, text: str, voice: VoiceParams) -> Synthesis:
        factor = voice.pitch_factor
        pcm, events = _synth_raw(text, voice, slowed_rate_wpm(voice.rate_wpm, factor))
        words = align_words(text, events, pcm, SAMPLE_RATE)
        return apply_pitch_factor(Synthesis(pcm, SAMPLE_RATE, words), factor)
