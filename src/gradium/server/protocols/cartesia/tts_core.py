"""One Cartesia TTS generation over the shared streaming model (``gradium.speech.tts``).

Every Cartesia TTS surface (bytes, SSE, WebSocket contexts, infill) parses its request with
``parse_tts_request`` and runs a ``CartesiaTts``: a ``TtsStream`` whose renderer additionally marks
flush points and times each step, fed through a ``TextJoiner`` because Cartesia continuations are
concatenated verbatim ("Hel" + "lo" is one word), while our segmenter treats each push as words.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gradium.audio.errors import UnknownFormatError
from gradium.audio.output import ShapedEncoder, open_encoder_for
from gradium.engines.base import VoiceParams, WordTiming
from gradium.server.billing import RequestMeter
from gradium.server.runtime import Runtime
from gradium.speech.tts import RenderedAudio, SegmentRenderer, SynthesisTransform, TtsStream
from gradium.speech.tts_models import family_of_model_id, for_family
from gradium.speech.tts_options import TtsOptions
from gradium.text.segmenter import Flush, SegmenterItem

from .custom import CustomRendering, custom_rendering, custom_voice_id
from .voicing import VoiceSpecError, check_language, resolve_voice_spec

_MODEL_SPEEDS = {"slowest": 0.7, "slow": 0.85, "normal": 1.0, "fast": 1.2, "fastest": 1.4}
_CONTROL_SPEEDS = {"slowest": -1.0, "slow": -0.5, "normal": 0.0, "fast": 0.5, "fastest": 1.0}
_FLUSH_TAG = re.compile(r"<\s*/?\s*flush\s*/?\s*>", re.IGNORECASE)
_LAST_SPACE = re.compile(r"\s(?=\S*$)")
_SENTENCE_END = re.compile(r"[.!?]['\")\]]*$")


class TtsRequestError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class TtsSpec:
    """A validated Cartesia TTS request, minus its transcript."""

    voice: VoiceParams
    container: str
    encoding: str | None
    sample_rate: int
    bit_rate: int | None
    speed: float  # rate multiplier
    gain: float
    max_seconds: float | None
    transform: SynthesisTransform | None = None  # custom voices: the WORLD transform to the profile

    def encoder(self) -> ShapedEncoder:
        return open_encoder_for(
            self.container, self.encoding, self.sample_rate, self.bit_rate,
            gain=self.gain, max_seconds=self.max_seconds,
        )  # fmt: skip


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise TtsRequestError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _speed(body: dict[str, Any]) -> float:
    """Top-level speed word x generation_config.speed x legacy __experimental_controls.speed."""
    factor = 1.0
    word = body.get("speed")
    if word is not None:
        if word not in _MODEL_SPEEDS:
            raise TtsRequestError(f"speed must be one of {', '.join(_MODEL_SPEEDS)}, got {word!r}")
        factor *= _MODEL_SPEEDS[word]
    config = body.get("generation_config") or {}
    if config.get("speed") is not None:
        factor *= _number(config["speed"], "generation_config.speed", 0.6, 1.5)
    voice = body.get("voice")
    controls = (voice.get("__experimental_controls") or {}) if isinstance(voice, dict) else {}
    control = controls.get("speed") if isinstance(controls, dict) else None
    if control is not None:
        level = _CONTROL_SPEEDS.get(control) if isinstance(control, str) else control
        factor *= 2.0 ** (0.6 * _number(level, "__experimental_controls.speed", -1.0, 1.0))
    return factor


def _output_format(raw: Any) -> tuple[str, str | None, int, int | None]:
    if not isinstance(raw, dict):
        raise TtsRequestError('output_format must be an object: {"container", "encoding", "sample_rate"}')
    container, encoding = raw.get("container", "raw"), raw.get("encoding")
    rate, bit_rate = raw.get("sample_rate"), raw.get("bit_rate")
    if isinstance(rate, bool) or not isinstance(rate, int):
        raise TtsRequestError("output_format.sample_rate must be an integer")
    if (
        container == "mp3"
        and bit_rate is not None
        and (isinstance(bit_rate, bool) or not isinstance(bit_rate, int))
    ):
        raise TtsRequestError("output_format.bit_rate must be an integer")
    return str(container), None if container == "mp3" else encoding, rate, bit_rate


async def prepare_tts_request(runtime: Runtime, body: dict[str, Any], org_id: int) -> TtsSpec:
    """``parse_tts_request`` that also knows the organisation's custom voices (database, engine thread)."""
    uid = custom_voice_id(body.get("voice"))
    custom = None
    if uid is not None:
        try:
            custom = await custom_rendering(runtime, org_id, uid, check_language(body.get("language")))
        except VoiceSpecError as exc:
            raise TtsRequestError(exc.message, exc.status) from None
    spec = parse_tts_request(body, flite=runtime.flite_enabled, custom=custom)
    if busy := runtime.engine_for(spec.voice).capacity_error():
        # 503 like every refusal at capacity (gradium.server.admission): a load balancer retries
        # it on another replica; the HTTP answer carries Retry-After (tts_http.http_error).
        raise TtsRequestError(busy, 503)
    return spec


def parse_tts_request(body: dict[str, Any], *, flite: bool, custom: CustomRendering | None = None) -> TtsSpec:
    """Validate everything but the transcript; TtsRequestError carries a 4xx message.

    Catalog and embedding voices only, unless ``custom`` carries the custom voice already resolved.
    """
    if not isinstance(body.get("model_id"), str) or not body["model_id"]:
        raise TtsRequestError('model_id is required (e.g. "sonic-2")')
    try:
        language = check_language(body.get("language"))
        voice = custom.params if custom else resolve_voice_spec(body.get("voice"), language, flite=flite)
        voice = for_family(voice, family_of_model_id(body["model_id"]), cloned=custom is not None)
    except VoiceSpecError as exc:
        raise TtsRequestError(exc.message, exc.status) from None
    container, encoding, rate, bit_rate = _output_format(body.get("output_format"))
    config = body.get("generation_config") or {}
    if not isinstance(config, dict):
        raise TtsRequestError("generation_config must be an object")
    gain = (
        1.0
        if config.get("volume") is None
        else _number(config["volume"], "generation_config.volume", 0.5, 2.0)
    )
    duration = body.get("duration")
    max_seconds = None if duration is None else _number(duration, "duration", 0.01, 3600.0)
    transform = custom.transform if custom else None
    spec = TtsSpec(voice, container, encoding, rate, bit_rate, _speed(body), gain, max_seconds, transform)
    try:
        spec.encoder()  # validates the format combination with the encoder's own messages
    except UnknownFormatError as exc:
        raise TtsRequestError(str(exc)) from None
    return spec


class TextJoiner:
    """Cartesia continuations join verbatim; hand the segmenter only text up to the last space.

    ``push(text, whole=True)`` (``max_buffer_delay_ms: 0``, or a buffer delay that ran out) hands
    everything over at once: the text is complete words. A following transcript that starts without
    a space then starts a new word ("thing." + "The" is "thing. The", not "thing.The"), as it does
    after a sentence end followed by a capital letter in buffered mode.
    """

    def __init__(self) -> None:
        self._tail = ""
        self._open_edge = False  # the text handed over last ended a word: the next starts a new one

    def push(self, text: str, *, whole: bool = False) -> str:
        text = _FLUSH_TAG.sub("", text)  # <flush> is ours, not Cartesia's: never obey it
        if text and not text[0].isspace() and (
            self._open_edge or (_SENTENCE_END.search(self._tail) and text[0].isupper())
        ):
            text = " " + text
        self._open_edge = False
        buffer = self._tail + text
        if whole:
            self._tail = ""
            self._open_edge = bool(buffer) and not buffer[-1].isspace()
            return buffer
        match = _LAST_SPACE.search(buffer)
        if match is None:
            self._tail = buffer
            return ""
        self._tail = buffer[match.end() :]
        return buffer[: match.start()]

    def drain(self) -> str:
        tail, self._tail = self._tail, ""
        self._open_edge = self._open_edge or bool(tail)
        return tail

    @property
    def holding(self) -> bool:
        """Text is held back waiting for the rest of its word."""
        return bool(self._tail)


@dataclass
class TimedAudio(RenderedAudio):
    """RenderedAudio plus how long the step took and whether it closes a flushed segment."""

    step_ms: float = 0.0
    flush: bool = False


class _CartesiaRenderer(SegmentRenderer):
    """Marks flushes and times steps; runs on the engine thread like its parent."""

    def render(self, item: SegmenterItem) -> RenderedAudio:
        started = time.perf_counter()
        rendered = super().render(item)
        flush = isinstance(item, Flush)
        # TtsStream only yields non-empty results; an empty chunk keeps a flush marker visible.
        chunks = rendered.chunks or ([b""] if flush else [])
        step_ms = (time.perf_counter() - started) * 1000
        return TimedAudio(chunks, rendered.words, rendered.phonemes, step_ms=step_ms, flush=flush)


class CartesiaTts:
    """One generation: push text, flush, end; iterate ``TimedAudio`` pieces."""

    def __init__(self, runtime: Runtime, spec: TtsSpec, meter: RequestMeter, max_chars: int) -> None:
        slot = runtime.engine_for(spec.voice)
        padding = max(-4.0, min(4.0, -4.0 * math.log2(spec.speed)))
        self.spec = spec
        self.encoder = spec.encoder()
        self.renderer = _CartesiaRenderer(
            slot.engine, spec.voice, TtsOptions(padding_bonus=padding), self.encoder, spec.transform
        )
        self.stream = TtsStream(
            self.renderer,
            slot.executor,
            meter.charge,
            max_chars,
            slot.first_segment_words,
            max_break_seconds=runtime.settings.limits.max_break_seconds_per_request,
        )
        self.joiner = TextJoiner()
        self.meter = meter

    @property
    def ended(self) -> bool:
        return self.stream.ended

    def push(self, text: str, *, whole: bool = False) -> None:
        """Raises TagError or ValueError (length limit) for the caller to report. ``whole``: speak
        the text now, without waiting for the rest of its last word (``max_buffer_delay_ms: 0``)."""
        ready = self.joiner.push(text, whole=whole)
        if ready.strip():
            self.stream.push_text(ready)

    def release_held_text(self) -> None:
        """The buffer delay ran out: speak what is held back."""
        tail = self.joiner.drain()
        if tail.strip() and not self.stream.ended:
            self.stream.push_text(tail)

    @property
    def holding_text(self) -> bool:
        return self.joiner.holding

    def flush(self) -> None:
        self.stream.push_text(self.joiner.drain() + " <flush>")

    def end(self) -> None:
        tail = self.joiner.drain()
        if tail:
            self.stream.push_text(tail)
        self.stream.end()

    async def pieces(self) -> AsyncIterator[TimedAudio]:
        async for rendered in self.stream.output():
            piece = (
                rendered
                if isinstance(rendered, TimedAudio)
                else TimedAudio(rendered.chunks, rendered.words, rendered.phonemes)
            )
            if self.spec.max_seconds is not None:
                piece.words = [w for w in piece.words if w.start_s < self.spec.max_seconds]
                piece.phonemes = [p for p in piece.phonemes if p.start_s < self.spec.max_seconds]
            yield piece

    async def record_usage(self) -> None:
        self.meter.characters = self.stream.billed_chars
        self.meter.audio_seconds = min(self.stream.audio_seconds, self.spec.max_seconds or math.inf)
        await self.meter.record()


# Cartesia response messages (SSE events and WebSocket frames share one union) --------------------


def base_message(kind: str, context_id: str | None, *, done: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind, "done": done, "status_code": 200 if done else 206}
    if context_id is not None:
        message["context_id"] = context_id
    return message


def chunk_message(data: bytes, step_ms: float, context_id: str | None) -> dict[str, Any]:
    return {
        **base_message("chunk", context_id),
        "data": base64.b64encode(data).decode("ascii"),
        "step_time": round(step_ms, 3),
    }


def timestamps_message(words: list[WordTiming], context_id: str | None) -> dict[str, Any]:
    return {
        **base_message("timestamps", context_id),
        "word_timestamps": {
            "words": [w.text for w in words],
            "start": [w.start_s for w in words],
            "end": [w.stop_s for w in words],
        },
    }


def approximate_phonemes(words: list[WordTiming]) -> tuple[list[str], list[float], list[float]]:
    """Letter-level timings spread evenly over each word, for an engine that reports no phonemes
    (espeak-ng and flite both report real ones, in IPA, with their own times)."""
    phonemes: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    for word in words:
        letters = [c for c in word.text.lower() if c.isalnum()] or [word.text]
        step = (word.stop_s - word.start_s) / len(letters)
        for index, letter in enumerate(letters):
            phonemes.append(letter)
            starts.append(round(word.start_s + index * step, 3))
            ends.append(round(word.start_s + (index + 1) * step, 3))
    return phonemes, starts, ends


def phonemes_message(piece: RenderedAudio, context_id: str | None) -> dict[str, Any]:
    if piece.phonemes:
        phonemes = [p.text for p in piece.phonemes]
        starts = [p.start_s for p in piece.phonemes]
        ends = [p.stop_s for p in piece.phonemes]
    else:
        phonemes, starts, ends = approximate_phonemes(piece.words)
    return {
        **base_message("phoneme_timestamps", context_id),
        "phoneme_timestamps": {"phonemes": phonemes, "start": starts, "end": ends},
    }


def piece_messages(
    piece: TimedAudio, context_id: str | None, *, words: bool, phonemes: bool
) -> list[dict[str, Any]]:
    """The chunk and timestamp messages for one rendered piece (flush markers are the caller's)."""
    messages = [chunk_message(chunk, piece.step_ms, context_id) for chunk in piece.chunks if chunk]
    if words and piece.words:
        messages.append(timestamps_message(piece.words, context_id))
    if phonemes and (piece.phonemes or piece.words):
        messages.append(phonemes_message(piece, context_id))
    return messages
