"""Gradium ``speech/s2s``: speech in, the same words out in the chosen voice (protocol §6, §13.11).

The input is transcribed by the STT worker pool as it streams in; every committed word is sent to the
client as ``{"type": "text", ..., "stream_id": 0}`` (input timeline) and pushed into a ``TtsStream``
that speaks it in the requested voice. A pause in the input (the STT's end_text) or the end of input
flushes the TTS, so output follows the speaker phrase by phrase.

Defaults follow the client (ambiguity A4): ``input_format`` pcm (24 kHz), ``output_format`` pcm
(48 kHz). Translation is not available: a ``target_language`` other than the source language is
refused in setup.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from typing import Any

from gradium.accounts.store import ApiKey
from gradium.server.billing import AudioSecondsBilling, RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocols.gradium.asr_ws import decode_audio_field, parse_audio_input
from gradium.server.protocols.gradium.connection import Emit, Message, RequestHandler, ready_fields
from gradium.server.protocols.gradium.tts_ws import open_tts_stream
from gradium.server.runtime import Runtime
from gradium.speech.stt_pipeline import Step, Word
from gradium.speech.tts import TtsStream
from gradium.speech.tts_options import OptionError, parse_json_config
from gradium.workers.stt_pool import Finished, StreamError, SttStreamHandle, SttWorkerPool

DELAY_IN_FRAMES = 10
PAUSE_FLUSH_S = 0.5  # a gap this long between input words ends a phrase: speak it now


def parse_s2s_config(setup: Message, pool: SttWorkerPool) -> tuple[str, str, dict[str, Any]]:
    """(input_format, source language, the TTS part of json_config).

    The source language defaults to English: the voice that speaks the result needs it up front."""
    config = parse_json_config(setup.get("json_config"))
    input_format, language = parse_audio_input(setup, config, "pcm")
    try:
        _, source = pool.validate(language or "en", DELAY_IN_FRAMES, 0.0, setup.get("stt_model_name"))
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    target = config.get("target_language")
    if target is not None and (not isinstance(target, str) or target.strip().lower().split("-")[0] != source):
        raise OptionError(
            f"translation is not supported: target_language {target!r} differs from the source "
            f"language '{source}'; omit target_language to keep the source language"
        )
    tts_keys = ("padding_bonus", "temp", "cfg_coef", "rewrite_rules")
    tts_config = {key: value for key, value in config.items() if key in tts_keys}
    return input_format, source, tts_config


class S2sRequest(RequestHandler):
    def __init__(self, runtime: Runtime, setup: Message, api_key: ApiKey) -> None:
        self.runtime = runtime
        self.setup = setup
        self.meter = RequestMeter(runtime.store, api_key.org_id, "s2s")
        # Input audio is billed like STT; the meter also holds the TTS characters' credits.
        self.billing = AudioSecondsBilling(self.meter, runtime.settings.pricing.stt_credits_per_second)
        self.request_id = str(uuid.uuid4())
        self.handle: SttStreamHandle | None = None
        self.tts: TtsStream | None = None
        self.ended = False

    async def start(self) -> Message:
        try:
            input_format, language, tts_config = parse_s2s_config(self.setup, self.runtime.stt_pool)
        except OptionError as exc:
            raise ProtocolError(str(exc)) from None
        tts_setup = {
            "voice_id": self.setup.get("voice_id"),
            "voice": self.setup.get("voice"),
            "output_format": self.setup.get("output_format") or "pcm",
            "json_config": tts_config,
        }
        limits = self.runtime.settings.limits
        self.tts, sample_rate = await open_tts_stream(
            self.runtime, tts_setup, self.meter, limits.max_text_chars_per_request
        )
        self.handle = self.runtime.stt_pool.open_stream(
            input_format, language, DELAY_IN_FRAMES, 0.0, self.setup.get("stt_model_name")
        )
        return ready_fields(self.request_id, self.setup, sample_rate)

    async def handle_input(self, message: Message) -> None:
        assert self.handle is not None
        if message["type"] != "audio":
            raise ProtocolError(f"'{message['type']}' messages are not accepted by speech/s2s")
        await self.handle.feed(decode_audio_field(message))

    async def end_input(self) -> None:
        assert self.handle is not None
        self.ended = True
        await self.handle.finish()

    @property
    def waiting_for_input(self) -> bool:
        return not self.ended

    async def run(self, emit: Emit) -> None:
        assert self.handle is not None and self.tts is not None
        speaker = asyncio.create_task(self._speak(self.tts, emit))
        try:
            await self._listen(self.handle, self.tts, emit)
            await speaker
        finally:
            speaker.cancel()
            with contextlib.suppress(BaseException):
                await speaker
            self.meter.characters = self.tts.billed_chars
            with contextlib.suppress(Exception):
                await asyncio.shield(self.meter.record())

    async def _listen(self, handle: SttStreamHandle, tts: TtsStream, emit: Emit) -> None:
        """Transcribe; each committed word goes to the client and into the TTS."""
        max_seconds = self.runtime.settings.limits.max_audio_seconds_per_request
        last_stop = 0.0
        while True:
            for event in await handle.next_events():
                if isinstance(event, Step):
                    if event.total_duration_s > max_seconds:
                        raise ProtocolError(f"audio exceeds the limit of {max_seconds:g} s per request")
                    await self.billing.until(event.total_duration_s)
                    continue
                if isinstance(event, Word):
                    if last_stop and event.start_s - last_stop >= PAUSE_FLUSH_S:
                        tts.push_text("<flush>")
                    last_stop = event.stop_s
                    tts.push_text(event.text)
                    await emit({"type": "text", "text": event.text, "start_s": event.start_s,
                                "stop_s": event.stop_s, "stream_id": 0})
                    await emit({"type": "end_text", "stop_s": event.stop_s, "stream_id": 0})
                elif isinstance(event, StreamError):
                    raise ProtocolError(event.message)
                elif isinstance(event, Finished):
                    await self.billing.until(self.meter.audio_seconds, final=True)
                    tts.end()
                    return

    async def _speak(self, tts: TtsStream, emit: Emit) -> None:
        async for rendered in tts.output():
            for chunk in rendered.chunks:
                await emit({"type": "audio", "audio": base64.b64encode(chunk).decode("ascii")})

    async def cancel(self) -> None:
        if self.handle is not None:
            await self.handle.close()


def s2s_factory(runtime: Runtime) -> Any:
    def make(setup: Message, api_key: ApiKey) -> RequestHandler:
        return S2sRequest(runtime, setup, api_key)

    return make
