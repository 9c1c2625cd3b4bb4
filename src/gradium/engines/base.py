"""Small interfaces every speech engine implements.

Engines are synchronous and know nothing about sockets, formats or accounts: the streaming model in
``gradium.speech`` drives them from worker threads or processes, never from the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True)
class WordTiming:
    """One spoken (TTS) or recognised (STT) word, with times in seconds."""

    text: str
    start_s: float
    stop_s: float


VoiceMix = tuple[tuple[str, float], ...]  # (voice name, weight) pairs: a weighted mean of voices


@dataclass(frozen=True)
class NeuralVoice:
    """A voice of a neural engine: the engine, one of its voices (or a mix of them), the accent."""

    engine: str  # "kokoro" or "piper"
    voice: str | VoiceMix  # "af_heart", "en_US-joe-medium", or (("af_heart", 0.6), ("af_bella", 0.4))
    accent: str  # what it speaks: "en-US", "en-GB", "fr", "es", "pt-BR"
    pitch_factor: float = 1.0  # post-synthesis F0 shift of this voice (VoiceParams' is the formant one)
    # Post-synthesis timbre equaliser, dB per profile band (gradium.engines.voice_eq); None: flat.
    eq_db: tuple[float, ...] | None = None


@dataclass(frozen=True)
class VoiceParams:
    """How one voice is rendered by the embedded engines.

    A catalog voice, a cloned voice or a designed draft all resolve to one of these. ``neural`` is
    the voice on a neural engine, used when that engine is installed and enabled; the espeak-ng and
    flite fields describe the same voice on the formant engines (German, the small-footprint mode,
    and cloned voices, whose WORLD transform starts from them). Fields that an engine has no control
    for are ignored by it; ``pitch_factor`` is applied after synthesis (by resampling with a
    compensating duration stretch) so that every engine can move F0; ``rate_wpm`` is the espeak
    scale, which neural engines read as a speed relative to :data:`NEUTRAL_RATE_WPM`.
    """

    language: str  # ISO 639-1 code: "en", "fr", "de", "es", "pt"
    espeak_voice: str  # espeak-ng voice file id plus optional variant: "en-us+f3", "pt-br", "es-419"
    flite_voice: str | None = None  # "slt", "rms", "awb", "kal16"; None = this voice never uses flite
    pitch: int = 50  # espeak-ng pitch 0..99
    pitch_range: int = 50  # espeak-ng range 0..99
    rate_wpm: int = 175  # speaking rate in words per minute (espeak scale; flite maps it)
    pitch_factor: float = 1.0  # post-synthesis F0 multiplier (formants move with it)
    # Same text, same samples. Costs espeak-ng a fresh library load per call; requests sampled at a
    # temperature above 0 vary their prosody anyway and turn it off (see tts_options.vary_prosody).
    reproducible: bool = True
    neural: NeuralVoice | None = None


NEUTRAL_RATE_WPM = 175  # espeak-ng's default rate: speed 1.0 for the neural engines


@dataclass(frozen=True)
class Synthesis:
    """The audio and word timings of one synthesized text segment."""

    pcm: Int16Array  # mono int16 samples
    sample_rate: int
    words: list[WordTiming] = field(default_factory=list)  # relative to the start of ``pcm``
    # Phonemes (IPA) with their times, where the engine reports them (espeak-ng does); else empty.
    phonemes: list[WordTiming] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / self.sample_rate


@runtime_checkable
class TTSEngine(Protocol):
    """Text in, audio and word timings out. One call synthesizes one segment (a clause or sentence)."""

    name: str

    def synthesize(self, text: str, voice: VoiceParams) -> Synthesis:
        """Synthesize plain text (no tags); word timings name the words of ``text`` in order."""
        ...


@runtime_checkable
class STTDecoder(Protocol):
    """One streaming recognition session of one STT engine (one per audio stream).

    The pipeline cuts the stream into utterances at VAD pauses; a decoder hears each utterance and
    gives a partial hypothesis on demand and the final words when it ends. The class attributes
    tell the pipeline what the engine's passes cost and how far its partial words can be trusted:
    a streaming decoder (pocketsphinx) updates its hypothesis every step for nothing, an utterance
    model (Whisper) decodes the whole utterance again for each partial.
    """

    sample_rate: int  # the rate ``accept`` expects
    partial_interval_s: float  # audio between two partial hypotheses; 0 = every 80 ms step
    commit_margin_s: float  # a partial word is committed no earlier than this after its end
    end_of_utterance_s: float  # VAD silence that ends an utterance (its final pass is the best)
    max_utterance_s: float  # an utterance is cut when it grows this long

    def accept(self, pcm: Int16Array) -> None:
        """Feed mono int16 audio at ``sample_rate``."""
        ...

    def hypothesis(self) -> list[WordTiming]:
        """The current best word sequence with times from the start of the stream (may still change)."""
        ...

    def finish(self) -> list[WordTiming]:
        """End the utterance and return the final words of everything accepted since the last finish."""
        ...


@runtime_checkable
class VoiceActivityDetector(Protocol):
    """Frame-level speech/non-speech decisions."""

    sample_rate: int
    frame_samples: int

    def is_speech(self, frame: Int16Array) -> bool:
        """Decide one frame of exactly ``frame_samples`` samples."""
        ...
