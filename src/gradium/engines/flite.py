"""flite text-to-speech (US English) through ctypes on Debian's ``libflite1``.

flite is optional: it is installed with apt, not pip, so ``flite_available()`` answers False on
machines without it and callers fall back to espeak. It synthesizes a whole utterance at once; the
word times come from the utterance's Segment relation (each segment's "end" feature) traced back to
the Token it was spoken for, and each Token's "file_pos" says where it sits in the input text.

The unit-selection voices (rms, slt, awb) excite unvoiced frames with libc ``rand()`` noise, so the
same text came out with different samples; seeding libc's generator before each call (under the
lock) makes output identical for identical input, as long as nothing else in the process calls
``rand()`` from another thread at that moment.
"""

from __future__ import annotations

import ctypes
import threading
from functools import cache

import numpy as np

from gradium.engines.base import Synthesis, VoiceParams, WordTiming
from gradium.engines.pitch import apply_pitch_factor, stretched_duration
from gradium.engines.wordalign import WordEvent, align_words

VOICES = ("slt", "rms", "awb", "kal16")
DEFAULT_VOICE = "rms"  # the one pocketsphinx understands best (engines.md 2.3)
REFERENCE_RATE_WPM = 175  # the rate_wpm that means duration_stretch 1.0

_P = ctypes.c_void_p
_LOCK = threading.Lock()
_voices: dict[str, int] = {}
_NOISE_SEED = 20240229


class _Wave(ctypes.Structure):
    """``cst_wave`` from cst_wave.h."""

    _fields_ = [
        ("type", ctypes.c_char_p),
        ("sample_rate", ctypes.c_int),
        ("num_samples", ctypes.c_int),
        ("num_channels", ctypes.c_int),
        ("samples", ctypes.POINTER(ctypes.c_short)),
    ]


_SIGNATURES: dict[str, tuple[type | None, list[type]]] = {
    "flite_init": (ctypes.c_int, []),
    "flite_synth_text": (_P, [ctypes.c_char_p, _P]),
    "utt_relation": (_P, [_P, ctypes.c_char_p]),
    "utt_wave": (_P, [_P]),
    "delete_utterance": (None, [_P]),
    "relation_head": (_P, [_P]),
    "item_next": (_P, [_P]),
    "item_feat_string": (ctypes.c_char_p, [_P, ctypes.c_char_p]),
    "item_feat_present": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "item_feat_int": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "ffeature_float": (ctypes.c_float, [_P, ctypes.c_char_p]),
    "path_to_item": (_P, [_P, ctypes.c_char_p]),
    "feat_set_float": (None, [_P, ctypes.c_char_p, ctypes.c_float]),
}


@cache
def _library() -> ctypes.CDLL | None:
    """libflite with its English front end, or None when the apt packages are missing."""
    try:
        # RTLD_GLOBAL: the voice libraries resolve symbols of the language and lexicon libraries.
        lib = ctypes.CDLL("libflite.so.1", mode=ctypes.RTLD_GLOBAL)
        for name in ("libflite_usenglish.so.1", "libflite_cmulex.so.1"):
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        for function, (restype, argtypes) in _SIGNATURES.items():
            getattr(lib, function).restype = restype
            getattr(lib, function).argtypes = argtypes
    except (OSError, AttributeError):
        return None
    lib.flite_init()
    return lib


@cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None)  # the C library flite already links against, for srand()
    libc.srand.argtypes = [ctypes.c_uint]
    libc.srand.restype = None
    return libc


def _voice(name: str) -> int | None:
    """The registered ``cst_voice*`` for ``name`` (loaded once, never freed); callers hold ``_LOCK``."""
    if name in _voices:
        return _voices[name]
    if _library() is None or name not in VOICES:
        return None
    try:
        voice_lib = ctypes.CDLL(f"libflite_cmu_us_{name}.so.1", mode=ctypes.RTLD_GLOBAL)
        register = getattr(voice_lib, f"register_cmu_us_{name}")
    except (OSError, AttributeError):
        return None
    register.restype = _P
    register.argtypes = [_P]
    pointer = register(None)
    if not pointer:
        return None
    _voices[name] = int(pointer)
    return _voices[name]


def flite_available(voice: str = DEFAULT_VOICE) -> bool:
    """Whether flite and the named voice can be loaded on this machine."""
    with _LOCK:
        return _voice(voice) is not None


def _voice_features(voice: int) -> int:
    # cst_voice starts {const char *name; cst_features *features; ...}; features is the 2nd pointer.
    return int(ctypes.c_void_p.from_address(voice + ctypes.sizeof(ctypes.c_void_p)).value or 0)


def _char_index(text: str) -> list[int]:
    """For each UTF-8 byte offset of ``text``, the index of the character it belongs to."""
    index: list[int] = []
    for position, char in enumerate(text):
        index.extend([position] * len(char.encode("utf-8")))
    return index


# flite's US English phone set (CMU, lower case) in IPA, so timestamps name phonemes the way
# espeak-ng's do. Stress lives on syllables in flite, so vowels come without stress marks.
_CMU_TO_IPA = {
    "aa": "ɑ", "ae": "æ", "ah": "ʌ", "ao": "ɔ", "aw": "aʊ", "ax": "ə", "axr": "ɚ", "ay": "aɪ",
    "b": "b", "ch": "tʃ", "d": "d", "dh": "ð", "dx": "ɾ", "eh": "ɛ", "el": "l̩", "em": "m̩",
    "en": "n̩", "er": "ɝ", "ey": "eɪ", "f": "f", "g": "ɡ", "hh": "h", "ih": "ɪ", "ix": "ɨ",
    "iy": "i", "jh": "dʒ", "k": "k", "l": "l", "m": "m", "n": "n", "ng": "ŋ", "nx": "ɾ̃",
    "ow": "oʊ", "oy": "ɔɪ", "p": "p", "r": "ɹ", "s": "s", "sh": "ʃ", "t": "t", "th": "θ",
    "uh": "ʊ", "uw": "u", "v": "v", "w": "w", "y": "j", "z": "z", "zh": "ʒ",
}  # fmt: skip


def _phonemes(lib: ctypes.CDLL, utterance: int) -> list[WordTiming]:
    """Each Segment (phone) with its start and end; pauses (``pau``) are left out."""
    phonemes: list[WordTiming] = []
    start = 0.0
    segment = lib.relation_head(lib.utt_relation(utterance, b"Segment"))
    while segment:
        end = float(lib.ffeature_float(segment, b"end"))
        name = (lib.item_feat_string(segment, b"name") or b"").decode("ascii", "replace")
        if name in _CMU_TO_IPA and end > start:
            phonemes.append(WordTiming(_CMU_TO_IPA[name], round(start, 4), round(end, 4)))
        start = end
        segment = lib.item_next(segment)
    return phonemes


def _token_events(lib: ctypes.CDLL, utterance: int, text: str) -> list[WordEvent]:
    """One event per Token that has audio: the start of its first segment, placed by file_pos."""
    byte_to_char = _char_index(text)
    events: list[WordEvent] = []
    seen: set[int] = set()
    previous_end = 0.0
    segment = lib.relation_head(lib.utt_relation(utterance, b"Segment"))
    while segment:
        end = float(lib.ffeature_float(segment, b"end"))
        token = lib.path_to_item(segment, b"R:SylStructure.parent.parent.R:Token.parent")
        if token and token not in seen and lib.item_feat_present(token, b"file_pos"):
            seen.add(token)
            # file_pos is the byte offset just past the token, its punctuation and one more byte.
            position = min(max(lib.item_feat_int(token, b"file_pos") - 2, 0), len(byte_to_char) - 1)
            events.append(WordEvent(byte_to_char[position] + 1, 1, previous_end))
        previous_end = end
        segment = lib.item_next(segment)
    return events


def _wave_samples(lib: ctypes.CDLL, utterance: int) -> tuple[np.ndarray, int]:
    wave = _Wave.from_address(lib.utt_wave(utterance))
    if wave.num_samples <= 0:
        return np.zeros(0, dtype=np.int16), int(wave.sample_rate)
    samples = np.ctypeslib.as_array(wave.samples, shape=(wave.num_samples * wave.num_channels,))
    return samples[:: wave.num_channels].astype(np.int16, copy=True), int(wave.sample_rate)


class FliteEngine:
    """Clear US-English TTS with word timings; only usable where ``flite_available()``."""

    name = "flite"

    @staticmethod
    def available(voice: str = DEFAULT_VOICE) -> bool:
        return flite_available(voice)

    def synthesize(self, text: str, voice: VoiceParams) -> Synthesis:
        stretch = REFERENCE_RATE_WPM / max(voice.rate_wpm, 1)
        stretch = stretched_duration(stretch, voice.pitch_factor)
        with _LOCK:
            lib = _library()
            handle = _voice(voice.flite_voice or DEFAULT_VOICE)
            if lib is None or handle is None:
                raise RuntimeError("flite is not available on this machine (apt-get install flite)")
            # Set on every call: the voice object is shared by all callers.
            lib.feat_set_float(_voice_features(handle), b"duration_stretch", stretch)
            _libc().srand(_NOISE_SEED)
            utterance = lib.flite_synth_text(text.encode("utf-8"), handle)
            if not utterance:
                raise RuntimeError("flite_synth_text failed")
            try:
                pcm, rate = _wave_samples(lib, utterance)
                events = _token_events(lib, utterance, text)
                phonemes = _phonemes(lib, utterance)
            finally:
                lib.delete_utterance(utterance)
        words = align_words(text, events, pcm, rate)
        return apply_pitch_factor(Synthesis(pcm, rate, words, phonemes), voice.pitch_factor)
