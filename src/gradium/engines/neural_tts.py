""":class:`~gradium.engines.base.TTSEngine` adapters for the neural engines (Kokoro, Piper).

The streaming model hands every engine a :class:`VoiceParams`; these adapters read its ``neural``
voice and its speed (``rate_wpm`` relative to :data:`NEUTRAL_RATE_WPM`, which carries
``padding_bonus``, Cartesia's ``speed`` and ``temp``'s per-clause variation) and call the engine.
The neural voice's own ``pitch_factor`` and ``eq_db`` (a clone's timbre equaliser) are applied after
synthesis; ``VoiceParams.pitch_factor`` belongs to the formant engines (flite's per-voice shift) and
is not applied to a neural voice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import kokoro, piper
from .base import NEUTRAL_RATE_WPM, NeuralVoice, Synthesis, VoiceParams, WordTiming
from .kokoro import FETCH_HINT, MODEL_PARTS, VOICE_SHA256, KokoroEngine, KokoroVoice, default_voices_dir
from .neural import LocalFile, WeightFile
from .piper import DEFAULT_MODEL, MODELS, PiperEngine, PiperVoice
from .pitch import apply_pitch_factor
from .voice_eq import apply_voice_eq
from .voice_files import VoiceFile
from .weights import verified_local_file, verified_path

KOKORO, PIPER = "kokoro", "piper"
KOKORO_SPEEDS = (kokoro.MIN_SPEED, kokoro.MAX_SPEED)
PIPER_SPEEDS = (piper.MIN_SPEED, piper.MAX_SPEED)


def _speed(voice: VoiceParams, bounds: tuple[float, float]) -> float:
    return min(max(voice.rate_wpm / NEUTRAL_RATE_WPM, bounds[0]), bounds[1])


MAX_PIECE_CHARS = 200  # Kokoro reads at most 510 phonemes per call: ~250 characters of English


def pieces(text: str, max_chars: int = MAX_PIECE_CHARS) -> list[str]:
    """Sentences packed into pieces of at most ``max_chars`` (a longer word is cut into parts).

    The server's segmenter hands over clauses; longer texts come from calibrations, infill and odd
    input (a 10,000-character word), which one engine call would refuse."""
    words: list[str] = []
    for word in text.split():
        words += [word[i : i + max_chars] for i in range(0, len(word), max_chars)]
    out: list[str] = []
    current = ""
    for word in words:
        ends = current.endswith((".", "!", "?", "…", ";", ":"))
        if current and (len(current) + 1 + len(word) > max_chars or (ends and len(current) > max_chars // 2)):
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*out, current] if current else out


def _joined(parts: list[Synthesis]) -> Synthesis:
    if len(parts) == 1:
        return parts[0]
    rate = parts[0].sample_rate
    words: list[WordTiming] = []
    phonemes: list[WordTiming] = []
    offset = 0.0
    for part in parts:
        words += [
            WordTiming(w.text, round(w.start_s + offset, 3), round(w.stop_s + offset, 3)) for w in part.words
        ]
        phonemes += [
            WordTiming(p.text, round(p.start_s + offset, 3), round(p.stop_s + offset, 3))
            for p in part.phonemes
        ]
        offset += part.duration_s
    return Synthesis(np.concatenate([p.pcm for p in parts]), rate, words, phonemes)


def synthesize_in_pieces(synthesize: Callable[[str], Synthesis], text: str) -> Synthesis:
    """``synthesize`` each piece of ``text``; a piece the model still finds too long is halved."""
    parts: list[Synthesis] = []
    queue = pieces(text)
    while queue:
        piece = queue.pop(0)
        try:
            parts.append(synthesize(piece))
        except ValueError:
            if len(piece) < 8:
                raise
            middle = piece.rfind(" ", 0, len(piece) // 2 + 1)
            middle = middle if middle > 0 else len(piece) // 2
            queue[:0] = [piece[:middle].strip(), piece[middle:].strip()]
    return _joined(parts) if parts else synthesize(text)


def _neural(voice: VoiceParams, engine: str) -> NeuralVoice:
    if voice.neural is None or voice.neural.engine != engine:
        raise ValueError(f"this voice has no {engine} voice")
    return voice.neural


class KokoroTTS:
    """Kokoro-82M (int8): 54 voices, en-US, en-GB, fr, es, pt-BR; ~0.8 CPU s per audio second."""

    name = KOKORO

    def __init__(
        self, threads: int = 1, voices_dir: Path | None = None, extra_voices: Sequence[VoiceFile] = ()
    ) -> None:
        own = {voice.name: voice.files[0] for voice in extra_voices if voice.engine == KOKORO}
        self.engine = KokoroEngine(threads=threads, voices_dir=voices_dir, extra_voices=own)

    def synthesize(self, text: str, voice: VoiceParams) -> Synthesis:
        neural = _neural(voice, KOKORO)
        kokoro = KokoroVoice(name=neural.voice, language=neural.accent, speed=_speed(voice, KOKORO_SPEEDS))
        synthesis = synthesize_in_pieces(lambda piece: self.engine.synthesize(piece, kokoro), text)
        return apply_voice_eq(apply_pitch_factor(synthesis, neural.pitch_factor), neural.eq_db)


class PiperTTS:
    """Piper (en_US-joe-medium): one masculine US voice, ~0.09 CPU s per audio second."""

    name = PIPER

    def __init__(self, threads: int = 1, extra_voices: Sequence[VoiceFile] = ()) -> None:
        own = {v.name: (v.files[0], v.files[1]) for v in extra_voices if v.engine == PIPER}
        self.engine = PiperEngine(threads=threads, models={**MODELS, **own})

    def synthesize(self, text: str, voice: VoiceParams) -> Synthesis:
        neural = _neural(voice, PIPER)
        piper = PiperVoice(model=str(neural.voice), speed=_speed(voice, PIPER_SPEEDS))
        synthesis = synthesize_in_pieces(lambda piece: self.engine.synthesize(piece, piper), text)
        return apply_voice_eq(apply_pitch_factor(synthesis, neural.pitch_factor), neural.eq_db)


def _check(file: WeightFile) -> None:
    if isinstance(file, LocalFile):
        verified_local_file(file.path, file.sha256, file.hint)
    else:
        verified_path(file)


def check_kokoro_installed(voices_dir: Path | None = None) -> None:
    """Every Kokoro weight file is there with its pinned sha256, or ModelFileError says what to do."""
    for part in MODEL_PARTS:
        _check(part)
    directory = voices_dir or default_voices_dir()
    for name, digest in VOICE_SHA256.items():
        verified_local_file(directory / f"{name}.bin", digest, FETCH_HINT)


def check_piper_installed() -> None:
    for file in MODELS[DEFAULT_MODEL]:
        _check(file)
