"""Gradium ``speech/tts``: a thin adapter from the wire protocol to ``gradium.speech.tts``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from dataclasses import replace
from functools import partial
from typing import Any

from gradium.accounts.store import ApiKey
from gradium.audio.errors import UnknownFormatError
from gradium.audio.output import AudioEncoder, open_encoder
from gradium.server.admission import TRY_AGAIN_LATER
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocols.gradium.connection import Emit, Message, RequestHandler, ready_fields
from gradium.server.runtime import Runtime
from gradium.speech.tts import SegmentRenderer, TtsStream
from gradium.speech.tts_models import family_of_model_name, for_family
from gradium.speech.tts_options import OptionError, TtsOptions, parse_tts_options
from gradium.speech.voice_selection import (
    UnknownVoiceError,
    needs_database,
    prepare_rendering,
    resolve_request_voice,
)
from gradium.text.tags import TagError


class VoiceNotFound(ProtocolError):
    """The requested voice does not exist for this organisation (HTTP routes answer 404)."""


def _parse_setup(setup: Message) -> tuple[TtsOptions, AudioEncoder]:
    try:
        options = parse_tts_options(setup.get("json_config"))
        encoder = open_encoder(str(setup.get("output_format") or "wav"))
    except (OptionError, UnknownFormatError) as exc:
        raise ProtocolError(str(exc)) from None
    return options, encoder


async def open_tts_stream(
    runtime: Runtime, setup: Message, meter: RequestMeter, max_chars: int
) -> tuple[TtsStream, int]:
    """Validate a TTS setup into a ready-to-run stream and its output sample rate.

    The voice is a catalog voice or one of the organisation's custom voices or drafts; another
    organisation's voice is unknown here, exactly like a voice that does not exist.
    """
    options, encoder = _parse_setup(setup)
    resolve = partial(
        resolve_request_voice,
        runtime.store,
        meter.org_id,
        setup.get("voice_id"),
        setup.get("voice"),
        flite=runtime.flite_enabled,
    )
    try:
        # A catalog voice is a dictionary lookup: no thread hop (it is most requests).
        voice = await asyncio.to_thread(resolve) if needs_database(setup.get("voice_id")) else resolve()
    except UnknownVoiceError as exc:
        raise VoiceNotFound(exc.message) from None
    family = family_of_model_name(setup.get("model_name"))
    # Only catalog voices have a Piper rendering; every other voice keeps its own in "fast".
    voice = replace(voice, params=for_family(voice.params, family, cloned=voice.kind != "catalog"))
    slot = runtime.engine_for(voice.params)
    if busy := slot.capacity_error():
        raise ProtocolError(busy, code=TRY_AGAIN_LATER)
    if voice.profile is None:
        params, transform = voice.params, None
    else:
        # The first request for a base voice synthesizes its calibration text: engine thread only.
        params, transform = await asyncio.get_running_loop().run_in_executor(
            slot.executor, prepare_rendering, voice, slot.engine, options.cfg_coef
        )
    renderer = SegmentRenderer(slot.engine, params, options, encoder, transform)
    stream = TtsStream(
        renderer,
        slot.executor,
        meter.charge,
        max_chars,
        slot.first_segment_words,
        max_break_seconds=runtime.settings.limits.max_break_seconds_per_request,
    )
    return stream, encoder.sample_rate


class TtsRequest(RequestHandler):
    def __init__(self, runtime: Runtime, setup: Message, api_key: ApiKey) -> None:
        self.runtime = runtime
        self.setup = setup
        self.meter = RequestMeter(runtime.store, api_key.org_id, "tts")
        self.stream: TtsStream | None = None
        self.request_id = str(uuid.uuid4())

    async def start(self) -> Message:
        limits = self.runtime.settings.limits
        self.stream, sample_rate = await open_tts_stream(
            self.runtime, self.setup, self.meter, limits.max_text_chars_per_request
        )
        return ready_fields(self.request_id, self.setup, sample_rate)

    async def handle_input(self, message: Message) -> None:
        assert self.stream is not None
        if message["type"] != "text":
            raise ProtocolError(f"'{message['type']}' messages are not accepted by speech/tts")
        text = message.get("text")
        if not isinstance(text, str):
            raise ProtocolError('a text message needs a string "text"')
        try:
            self.stream.push_text(text)
        except ValueError as exc:  # a malformed tag (TagError) or text past the length limit
            raise ProtocolError(str(exc)) from None

    async def end_input(self) -> None:
        assert self.stream is not None
        try:
            self.stream.end()
        except TagError as exc:
            raise ProtocolError(str(exc)) from None

    @property
    def waiting_for_input(self) -> bool:
        return self.stream is None or not self.stream.ended

    async def run(self, emit: Emit) -> None:
        assert self.stream is not None
        try:
            async for rendered in self.stream.output():
                for chunk in rendered.chunks:
                    await emit({"type": "audio", "audio": base64.b64encode(chunk).decode("ascii")})
                for word in rendered.words:
                    await emit(
                        {"type": "text", "text": word.text, "start_s": word.start_s, "stop_s": word.stop_s}
                    )
        finally:
            self.meter.characters = self.stream.billed_chars
            self.meter.audio_seconds = self.stream.audio_seconds
            with contextlib.suppress(Exception):
                await asyncio.shield(self.meter.record())


def tts_factory(runtime: Runtime) -> Any:
    def make(setup: Message, api_key: ApiKey) -> RequestHandler:
        return TtsRequest(runtime, setup, api_key)

    return make
