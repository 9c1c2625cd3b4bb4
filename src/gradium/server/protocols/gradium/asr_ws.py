"""Gradium ``speech/asr``: a thin adapter from the wire protocol to the STT worker pool."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import uuid
from typing import Any

from gradium.accounts.store import ApiKey
from gradium.audio.input import INPUT_FORMATS
from gradium.server.billing import AudioSecondsBilling, RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocols.gradium.connection import Emit, Message, RequestHandler, ready_fields
from gradium.server.runtime import Runtime
from gradium.speech.stt_pipeline import Partial, Step, Word
from gradium.speech.tts_options import OptionError, number_in_range, parse_json_config
from gradium.workers.stt_pool import Finished, Flushed, StreamError, SttStreamHandle, SttWorkerPool

DEFAULT_DELAY_IN_FRAMES = 10
MAX_AUDIO_MESSAGE_BYTES = 4 * 1024 * 1024  # decoded bytes of one audio message


def parse_audio_input(setup: Message, config: dict[str, Any], default_format: str) -> tuple[str, str | None]:
    """(input_format, language or None when omitted) of a setup that streams audio in (speech/asr
    and speech/s2s)."""
    input_format = str(setup.get("input_format") or default_format)
    if input_format not in INPUT_FORMATS:
        raise OptionError(f"unknown input_format '{input_format}': use one of {', '.join(INPUT_FORMATS)}")
    language = config.get("language")
    if language is not None and not isinstance(language, str):
        raise OptionError("json_config 'language' must be a language code such as \"en\", or \"any\"")
    return input_format, language.lower() if language else None


def parse_stt_config(setup: Message, pool: SttWorkerPool) -> tuple[str, str, int, float]:
    """(input_format, language, delay_in_frames, temp), validated with messages that name the key.

    An omitted language is detected from the speech (Whisper); ``model_name`` picks the engine."""
    config = parse_json_config(setup.get("json_config"))
    input_format, language = parse_audio_input(setup, config, "wav")
    delay = config.get("delay_in_frames", DEFAULT_DELAY_IN_FRAMES)
    if isinstance(delay, float) and delay.is_integer():
        delay = int(delay)
    if not isinstance(delay, int) or isinstance(delay, bool):
        raise OptionError("json_config 'delay_in_frames' must be an integer")
    temp = number_in_range(config, "temp", 0.0, 1.0, 0.0)
    try:
        _, code = pool.validate(language, delay, temp, setup.get("model_name"))
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    return input_format, code, delay, temp


def interim_results(setup: Message) -> bool:
    """json_config ``interim_results: true`` (ours; off by default, so the official client's
    streams are unchanged) adds ``{"type": "partial", "text": ...}`` messages: the hypothesis of the
    utterance being spoken, which may still change, before its words are committed as ``text``."""
    value = parse_json_config(setup.get("json_config")).get("interim_results", False)
    if not isinstance(value, bool):
        raise OptionError("json_config 'interim_results' must be true or false")
    return value


class AsrRequest(RequestHandler):
    def __init__(self, runtime: Runtime, setup: Message, api_key: ApiKey) -> None:
        self.runtime = runtime
        self.setup = setup
        self.meter = RequestMeter(runtime.store, api_key.org_id, "stt")
        self.billing = AudioSecondsBilling(self.meter, runtime.settings.pricing.stt_credits_per_second)
        self.request_id = str(uuid.uuid4())
        self.handle: SttStreamHandle | None = None
        self.ended = False
        self.interim = False

    async def start(self) -> Message:
        try:
            input_format, language, delay, temp = parse_stt_config(self.setup, self.runtime.stt_pool)
            self.interim = interim_results(self.setup)
        except OptionError as exc:
            raise ProtocolError(str(exc)) from None
        model_name = self.setup.get("model_name")
        self.handle = self.runtime.stt_pool.open_stream(input_format, language, delay, temp, model_name)
        # STT input is resampled to the protocol's 24 kHz frames of 1920 samples (80 ms).
        # One text token per 80 ms frame: the delay in tokens is the delay in frames.
        return ready_fields(
            self.request_id, self.setup, 24000, delay_in_frames=delay, delay_in_tokens=delay
        )

    async def handle_input(self, message: Message) -> None:
        assert self.handle is not None
        if message["type"] == "flush":
            flush_id = message.get("flush_id", 0)
            # The official client sends integers, pipecat strings ("1"): either is echoed as sent.
            if not isinstance(flush_id, int | str) or isinstance(flush_id, bool):
                raise ProtocolError('"flush_id" must be an integer or a string')
            await self.handle.flush(flush_id)
            return
        if message["type"] != "audio":
            raise ProtocolError(f"'{message['type']}' messages are not accepted by speech/asr")
        await self.handle.feed(decode_audio_field(message))

    async def end_input(self) -> None:
        assert self.handle is not None
        self.ended = True
        await self.handle.finish()

    @property
    def waiting_for_input(self) -> bool:
        return not self.ended

    async def run(self, emit: Emit) -> None:
        assert self.handle is not None
        try:
            await self._relay(self.handle, emit)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.meter.record())

    async def _relay(self, handle: SttStreamHandle, emit: Emit) -> None:
        max_seconds = self.runtime.settings.limits.max_audio_seconds_per_request
        while True:
            for event in await handle.next_events():
                if isinstance(event, Step):
                    if event.total_duration_s > max_seconds:
                        raise ProtocolError(f"audio exceeds the limit of {max_seconds:g} s per request")
                    await self.billing.until(event.total_duration_s)
                    await emit(step_message(event))
                elif isinstance(event, Word):
                    await emit(
                        {
                            "type": "text",
                            "text": event.text,
                            "start_s": event.start_s,
                            "stop_s": event.stop_s,
                            "stream_id": 0,
                        }
                    )
                    await emit({"type": "end_text", "stop_s": event.stop_s, "stream_id": 0})
                elif isinstance(event, Partial):
                    if self.interim:
                        await emit({"type": "partial", "text": event.text, "stream_id": 0})
                elif isinstance(event, Flushed):
                    await emit({"type": "flushed", "flush_id": event.flush_id})
                elif isinstance(event, StreamError):
                    raise ProtocolError(event.message)
                elif isinstance(event, Finished):
                    await self.billing.until(self.meter.audio_seconds, final=True)
                    return

    async def cancel(self) -> None:
        if self.handle is not None:
            await self.handle.close()


def decode_audio_field(message: Message) -> bytes:
    data = message.get("audio")
    if not isinstance(data, str):
        raise ProtocolError('an audio message needs a base64 string "audio"')
    if len(data) > MAX_AUDIO_MESSAGE_BYTES * 4 // 3 + 4:
        raise ProtocolError(f"audio message larger than {MAX_AUDIO_MESSAGE_BYTES} bytes: send smaller chunks")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("invalid base64 in the audio field (standard alphabet, with padding)") from None


def step_message(step: Step) -> Message:
    return {
        "type": "step",
        "vad": [{"horizon_s": h, "inactivity_prob": round(p, 4)} for h, p in step.inactivity],
        "step_idx": step.step_idx,
        "step_duration_s": 0.08,
        "total_duration_s": round(step.total_duration_s, 3),
    }


def asr_factory(runtime: Runtime) -> Any:
    def make(setup: Message, api_key: ApiKey) -> RequestHandler:
        return AsrRequest(runtime, setup, api_key)

    return make
