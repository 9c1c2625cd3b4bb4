"""Which recogniser a stream gets, and the per-process factory of recognisers and VADs.

Two engines sit behind the :class:`~gradium.engines.base.STTDecoder` interface:

* ``whisper`` (default): Whisper tiny.en for English, base for fr/de/es/pt and for language
  detection, with the Silero VAD; see :mod:`gradium.engines.whisper`.
* ``pocketsphinx``: English only, small footprint (~95 MB per decoder, no neural runtime), with
  WebRTC's VAD; selected by ``GRADIUM_STT_ENGINE=pocketsphinx`` or per stream by ``model_name``.

The server validates a stream's configuration with :func:`validate_stream` before it reaches a
worker; the worker builds its recogniser with :class:`Recognizers`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from gradium.engines.base import STTDecoder, VoiceActivityDetector
from gradium.engines.pocketsphinx import DEFAULT_SEARCH, SEARCH_MODES, PocketsphinxDecoder
from gradium.engines.pocketsphinx import SUPPORTED_LANGUAGES as POCKETSPHINX_LANGUAGES
from gradium.engines.whisper import AUTO, WhisperDecoder, WhisperModels, WhisperOptions
from gradium.engines.whisper import LANGUAGES as WHISPER_LANGUAGES

from .stt_pipeline import VAD_AGGRESSIVENESS, UnsupportedLanguageError, check_delay_and_temp, language_code

WHISPER, POCKETSPHINX = "whisper", "pocketsphinx"
ENGINES: tuple[str, ...] = (WHISPER, POCKETSPHINX)
DEFAULT_ENGINE = WHISPER
# `model_name` values a client may send, and the engine each selects ("default" = the server's).
MODEL_NAMES: dict[str, str] = {
    "whisper": WHISPER,
    "whisper-tiny.en": WHISPER,
    "whisper-base": WHISPER,
    "pocketsphinx": POCKETSPHINX,
}
AUTO_NAMES = frozenset({"", "any", "auto", "multi", "detect"})
MAX_IDLE_POCKETSPHINX = 2  # per worker and temp; each costs ~92 MB, loading a new one ~0.25 s


@dataclass(frozen=True)
class SttEngineOptions:
    """What every STT worker of a server is started with."""

    engine: str = DEFAULT_ENGINE
    search: str = DEFAULT_SEARCH  # pocketsphinx search mode
    whisper: WhisperOptions = field(default_factory=WhisperOptions)
    # Share of a worker's cores that partial passes (interim words) may use; the rest is kept for
    # the VAD, final passes and slack (gradium.workers.stt_worker.PartialBudget).
    partial_cpu_share: float = 0.5
    # Passes a worker process runs at once, one per thread, each on one core (Whisper: as many
    # CTranslate2 replicas of each model). Its streams' requests wait in one queue for the next
    # free thread, so one long pass no longer holds up every other stream of the worker.
    threads: int = 1

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown STT engine {self.engine!r}; valid: {', '.join(ENGINES)}")
        if self.search not in SEARCH_MODES:
            raise ValueError(f"unknown STT search mode {self.search!r}; valid: {', '.join(SEARCH_MODES)}")
        if not 0 < self.partial_cpu_share <= 1:
            raise ValueError("the partial passes' CPU share must be above 0 and at most 1")
        if self.threads < 1:
            raise ValueError("an STT worker needs at least one thread")


def engine_for_model(model_name: object, default: str = DEFAULT_ENGINE) -> str:
    """The engine a setup's ``model_name`` selects; unknown names are an error that lists the valid."""
    if model_name is not None and not isinstance(model_name, str):
        raise UnsupportedLanguageError(f"STT model_name must be a string, not {model_name!r}")
    name = (model_name or "default").strip().lower()
    if name == "default":
        return default
    if name not in MODEL_NAMES:
        valid = ", ".join(["default", *MODEL_NAMES])
        raise UnsupportedLanguageError(f"unknown STT model_name {model_name!r}; valid: {valid}")
    return MODEL_NAMES[name]


def languages(engine: str) -> tuple[str, ...]:
    return tuple(WHISPER_LANGUAGES) if engine == WHISPER else tuple(sorted(POCKETSPHINX_LANGUAGES))


def normalise_language(engine: str, language: str | None) -> str:
    """"en", "EN", "en-US" and "en_us" mean English; "any"/"auto"/omitted mean detection (Whisper).

    Raises :class:`UnsupportedLanguageError` naming what is installed."""
    code = language_code(language or "")
    if code in AUTO_NAMES:
        if engine == WHISPER:
            return AUTO
        code = "en"  # pocketsphinx knows one language
    if code not in languages(engine):
        installed = ", ".join(languages(engine))
        detect = " or 'any' to detect it" if engine == WHISPER else ""
        raise UnsupportedLanguageError(
            f"unsupported STT language {language!r} for the {engine} engine; installed: {installed}{detect}"
        )
    return code


def validate_stream(engine: str, language: str | None, delay_in_frames: int, temp: float) -> str:
    """Check a stream's configuration for ``engine``; return its language code (or ``auto``)."""
    code = normalise_language(engine, language)
    check_delay_and_temp(delay_in_frames, temp)
    return code


class Recognizers:
    """The recognisers of one worker process: loaded models are shared by all its streams.

    Thread-safe: the worker's threads open and close streams concurrently."""

    def __init__(self, options: SttEngineOptions | None = None) -> None:
        self.options = options or SttEngineOptions()
        self._whisper: WhisperModels | None = None
        self._silero: Any = None  # one onnxruntime session; each stream keeps its own VAD state
        self._idle: dict[float, list[PocketsphinxDecoder]] = {}
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load what the default engine needs, so that the first stream does not wait for it."""
        if self.options.engine == WHISPER:
            models = self._whisper_models()
            for language in ("en", AUTO):
                models.model(language)
            self.vad(WHISPER)
        else:
            self.give_back(self.decoder(POCKETSPHINX, "en", 0.0))

    def decoder(self, engine: str, language: str, temp: float, task: str = "transcribe") -> STTDecoder:
        if engine == WHISPER:
            return WhisperDecoder(self._whisper_models(), language, temp, task)
        with self._lock:
            idle = self._idle.get(temp)
            reused = idle.pop() if idle else None
        return reused or PocketsphinxDecoder(temp, search=self.options.search)

    def vad(self, engine: str) -> VoiceActivityDetector:
        if engine == WHISPER:
            from gradium.engines.silero_vad import SileroVad

            with self._lock:
                detector = SileroVad(session=self._silero)
                self._silero = detector.session
            return detector
        from gradium.engines.webrtc_vad import WebrtcVad

        return WebrtcVad(VAD_AGGRESSIVENESS)

    def give_back(self, decoder: STTDecoder) -> None:
        """A finished stream's decoder: pocketsphinx decoders are reset and kept for the next."""
        if isinstance(decoder, PocketsphinxDecoder):
            decoder.reset()
            with self._lock:
                idle = self._idle.setdefault(decoder.temp, [])
                if len(idle) < MAX_IDLE_POCKETSPHINX:
                    idle.append(decoder)

    def _whisper_models(self) -> WhisperModels:
        with self._lock:
            if self._whisper is None:
                whisper = replace(self.options.whisper, replicas=self.options.threads)
                self._whisper = WhisperModels(whisper)
            return self._whisper
