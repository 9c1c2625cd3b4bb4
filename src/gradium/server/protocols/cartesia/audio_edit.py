"""``POST /infill/bytes`` and ``POST /voice-changer/bytes|sse`` (multipart uploads).

**Infill** speaks the transcript in the chosen voice, to be placed between ``left_audio`` and
``right_audio`` (the SDK's ``tts.infill`` helper does the joining). The speech is scaled to the
active-speech level of the clips (the average, in dB, of those given) and starts and ends with a
5 ms raised-cosine ramp on exact zeros, so the seams neither jump in loudness nor click.

**The voice changer** converts the clip itself with the WORLD vocoder
(``gradium.speech.voice_conversion``): same duration and frames, the log-F0 contour moved to the
target voice's median and spread, the spectral envelope warped and equalised towards the target's.
The target's profile is the stored one for the organisation's own voices, and for catalog voices
the profile of a calibration synthesis (cached per voice and process). No speech recognition is
involved, so any language works.

Decoding, conversion, level matching and encoding all run in worker threads (``asyncio.to_thread``;
calibrations on the engine's own thread): the event loop never does DSP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from numpy.typing import NDArray
from starlette.datastructures import FormData, UploadFile

from gradium.audio.convert import float_to_int16, int16_to_float
from gradium.audio.errors import AudioFormatError, UnknownFormatError
from gradium.audio.files import read_audio_file, sniff_container
from gradium.audio.loudness import active_level_db, match_level, mean_level_db, ramp_edges
from gradium.audio.output import ShapedEncoder, open_encoder_for, wav_with_sizes
from gradium.audio.wav import WavHeaderParser, frames_to_mono_int16
from gradium.catalog import load_catalog, voice_params
from gradium.engines.voice_transform import calibrate
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.runtime import Runtime
from gradium.speech.tts_models import FORMANT, for_family
from gradium.speech.voice_conversion import Converted, convert_voice, engine_voice_profile, warp_bands
from gradium.speech.voice_profile import VoiceProfile, pyworld_available
from gradium.speech.voice_selection import UnknownVoiceError, resolve_request_voice
from gradium.text.tags import TagError

from .auth import Principal, requires
from .tts_core import (
    CartesiaTts,
    TtsRequestError,
    TtsSpec,
    base_message,
    chunk_message,
    prepare_tts_request,
)
from .tts_http import http_error

router = APIRouter()
TtsCaller = Annotated[Principal, Depends(requires("tts"))]
INFILL_FIXED_CREDITS = 300
VOICE_CHANGER_CREDITS_PER_SECOND = 15
MAX_CLIP_SECONDS = 300.0  # voice changer input (about 1 minute of CPU for the conversion)
SEAM_CONTEXT_S = 30.0  # infill matches the loudness of the clips' parts next to the seams
log = logging.getLogger("gradium.cartesia.audio_edit")


def _output_format(form: FormData) -> dict[str, Any]:
    """``output_format[container]``... form fields -> the JSON ``output_format`` object."""
    fmt: dict[str, Any] = {"container": form.get("output_format[container]") or "raw"}
    for key in ("sample_rate", "bit_rate"):
        value = form.get(f"output_format[{key}]")
        if value is not None:
            try:
                fmt[key] = int(str(value))
            except ValueError:
                raise HTTPException(400, f"output_format[{key}] must be an integer") from None
    if form.get("output_format[encoding]") is not None:
        fmt["encoding"] = str(form.get("output_format[encoding]"))
    return fmt


def _controls(form: FormData) -> dict[str, Any]:
    controls: dict[str, Any] = {}
    speed = form.get("voice[__experimental_controls][speed]")
    if speed is not None:
        text = str(speed)
        try:
            controls["speed"] = float(text)
        except ValueError:
            controls["speed"] = text
    emotions = form.getlist("voice[__experimental_controls][emotion][]")
    if emotions:
        controls["emotion"] = [str(e) for e in emotions]  # accepted; the engines have no emotions
    return controls


class PrepaidMeter(RequestMeter):
    """A meter paid once up front (infill's fixed fee, the voice changer's per-second price)."""

    def __init__(self, meter: RequestMeter, per_character: bool) -> None:
        super().__init__(meter.store, meter.org_id, meter.service)
        self.per_character = per_character

    async def prepay(self, amount: int) -> None:
        try:
            await super().charge(amount)
        except ProtocolError as exc:
            raise http_error(exc) from None

    async def charge(self, amount: int) -> None:
        if self.per_character:
            await super().charge(amount)


async def _spec(runtime: Runtime, body: dict[str, Any], principal: Principal) -> TtsSpec:
    """The request's format and voice (catalog, embedding or the organisation's custom voice)."""
    try:
        return await prepare_tts_request(runtime, body, principal.org_id)
    except TtsRequestError as exc:
        raise http_error(exc) from None


def _generation(runtime: Runtime, spec: TtsSpec, meter: RequestMeter, text: str) -> CartesiaTts:
    limit = runtime.settings.limits.max_http_tts_chars
    if len(text) > limit:
        raise HTTPException(400, f"transcript is longer than {limit} characters")
    try:
        tts = CartesiaTts(runtime, spec, meter, limit)
        tts.push(text)
        tts.end()
    except (TtsRequestError, ValueError) as exc:
        raise http_error(exc) from None
    return tts


# Clips ------------------------------------------------------------------------------------------


def decode_clip(data: bytes) -> tuple[NDArray[np.float32], int]:
    """Blocking: an uploaded file (WAV in any layout, FLAC, MP3, Ogg) as mono float32 at its rate."""
    kind = sniff_container(data[:64])
    if kind is None:
        raise AudioFormatError("unrecognised audio file: send WAV, FLAC, MP3 or Ogg (Vorbis/Opus)")
    if kind != "wav":
        samples, rate = read_audio_file(data)
        return np.clip(np.nan_to_num(samples), -1.0, 1.0).astype(np.float32), rate
    parsed = WavHeaderParser("wav").feed(data)
    if parsed is None:
        raise AudioFormatError("the WAV file ends inside its header (no data chunk)")
    fmt, body = parsed
    if fmt.data_size is not None:
        body = body[: fmt.data_size]
    body = body[: len(body) - len(body) % fmt.block_align]
    return int16_to_float(frames_to_mono_int16(body, fmt)), fmt.sample_rate


async def _read_clip(upload: UploadFile, part: str) -> tuple[NDArray[np.float32], int]:
    data = await upload.read()
    try:
        samples, rate = await asyncio.to_thread(decode_clip, data)
    except (AudioFormatError, ValueError) as exc:
        raise HTTPException(400, f"{part}: {exc}") from None
    return samples, rate


def _encode(encoder: ShapedEncoder, samples: NDArray[np.float32], rate: int) -> list[bytes]:
    """Blocking: the whole audio through the request's encoder (80 ms chunks, last one partial)."""
    pcm = float_to_int16(samples)
    return [chunk for chunk in encoder.encode(pcm, rate) + encoder.finish() if chunk]


def _whole(encoder: ShapedEncoder, chunks: list[bytes]) -> Response:
    body = b"".join(chunks)
    if encoder.format.codec.startswith("wav"):
        body = wav_with_sizes(body)  # a complete WAV with its real sizes
    return Response(body, media_type=encoder.format.content_type)


# Infill -----------------------------------------------------------------------------------------


def seam_context(samples: NDArray[np.float32], rate: int, side: str) -> NDArray[np.float32]:
    """The part of a clip next to the infill: the end of the left clip, the start of the right."""
    keep = int(SEAM_CONTEXT_S * rate)
    return samples[-keep:] if side == "left_audio" else samples[:keep]


def finish_infill(
    pcm: NDArray[np.int16], rate: int, references: list[tuple[NDArray[np.float32], int]]
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """Blocking: the generated speech at the clips' active-speech level, ramped at both ends."""
    speech = int16_to_float(pcm).astype(np.float64)
    target = mean_level_db([active_level_db(samples, clip_rate) for samples, clip_rate in references])
    before = active_level_db(speech, rate)
    matched, gain_db = match_level(speech, rate, target)
    ramped = ramp_edges(matched, rate)
    report = {"target_db": target, "speech_db": before, "gain_db": round(gain_db, 2)}
    return ramped.astype(np.float32), report


async def _generated_pcm(tts: CartesiaTts) -> NDArray[np.int16]:
    """Run the generation to the end (raw s16le) and record its usage."""
    parts: list[bytes] = []
    try:
        async for piece in tts.pieces():
            parts.extend(piece.chunks)
    except (ProtocolError, TagError) as exc:
        raise http_error(exc) from None
    finally:
        with contextlib.suppress(Exception):
            await tts.record_usage()
    return np.frombuffer(b"".join(parts), dtype="<i2").astype(np.int16)


@router.post("/infill/bytes")
async def infill(request: Request, principal: TtsCaller) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    uploads = {part: form.get(part) for part in ("left_audio", "right_audio")}
    clips = {part: value for part, value in uploads.items() if isinstance(value, UploadFile)}
    if not clips:
        raise HTTPException(400, "send left_audio, right_audio or both")
    transcript = str(form.get("transcript") or "")
    body = {
        "model_id": str(form.get("model_id") or "sonic-2"),
        "language": form.get("language"),
        "voice": {
            "mode": "id",
            "id": str(form.get("voice_id") or ""),
            "__experimental_controls": _controls(form),
        },
        "output_format": _output_format(form),
    }
    spec = await _spec(runtime, body, principal)
    references = []
    for part, upload in clips.items():  # undecodable clips fail here, before anything is charged
        samples, rate = await _read_clip(upload, part)
        references.append((seam_context(samples, rate, part), rate))
    # Generated as raw 16-bit PCM at the output rate, then levelled and ramped, then encoded.
    raw = replace(spec, container="raw", encoding="pcm_s16le", bit_rate=None, gain=1.0, max_seconds=None)
    meter = PrepaidMeter(RequestMeter(runtime.store, principal.org_id, "infill"), per_character=True)
    tts = _generation(runtime, raw, meter, transcript)
    await meter.prepay(INFILL_FIXED_CREDITS)
    pcm = await _generated_pcm(tts)
    speech, report = await asyncio.to_thread(finish_infill, pcm, spec.sample_rate, references)
    log.debug("infill levels: %s", report)
    encoder = spec.encoder()
    return _whole(encoder, await asyncio.to_thread(_encode, encoder, speech, spec.sample_rate))


# Voice changer ----------------------------------------------------------------------------------


async def target_profile(runtime: Runtime, org_id: int, voice_id: str) -> VoiceProfile:
    """The target voice's profile: stored for the organisation's voices; for catalog voices, the
    profile of their calibration synthesis (engine thread, cached per voice and process).

    Catalog targets are measured on their formant rendering (espeak-ng/flite, ``model_name``
    "formant"), on which the conversion was tuned and measured. Measured on the Kokoro voices, the
    conversion of a French feminine clip to a masculine voice kept its intonation less well (F0
    contour correlation 0.70 instead of > 0.8): moving targets to the neural voices is left to do."""
    loop = asyncio.get_running_loop()
    catalog_voice = load_catalog().get(voice_id)
    if catalog_voice is not None:
        params = for_family(voice_params(catalog_voice, flite=runtime.flite_enabled), FORMANT)
        slot = runtime.engine_for(params)
        return await loop.run_in_executor(slot.executor, engine_voice_profile, slot.engine, params)
    try:
        resolved = await asyncio.to_thread(
            resolve_request_voice, runtime.store, org_id, voice_id, None, flite=runtime.flite_enabled
        )
    except UnknownVoiceError:
        raise HTTPException(404, f"voice '{voice_id}' not found: list voices with GET /voices/") from None
    profile = resolved.profile
    assert profile is not None  # custom voices and drafts always carry one
    if profile.envelope_db is None:
        # Designed or embedding-made voices have no measured timbre: they sound like their base
        # voice with its envelope warped by formant_scale, so that is the target envelope.
        slot = runtime.engine_for(resolved.params)
        base = await loop.run_in_executor(slot.executor, calibrate, slot.engine, resolved.params)
        if base.envelope_db is not None:
            bands = warp_bands(np.asarray(base.envelope_db), profile.formant_scale or 1.0)
            profile = replace(profile, envelope_db=tuple(float(v) for v in bands), formant_scale=None)
    return profile


def _voice_changer_encoder(form: FormData) -> ShapedEncoder:
    fmt = _output_format(form)
    if "sample_rate" not in fmt:
        raise HTTPException(400, "output_format[sample_rate] is required")
    try:
        return open_encoder_for(
            fmt["container"], fmt.get("encoding"), fmt["sample_rate"], fmt.get("bit_rate")
        )
    except UnknownFormatError as exc:
        raise HTTPException(400, str(exc)) from None


async def _changed_voice(request: Request, principal: Principal) -> tuple[ShapedEncoder, list[bytes], float]:
    """Validate, charge and convert: (encoder, encoded chunks, conversion milliseconds)."""
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    clip = form.get("clip")
    if not isinstance(clip, UploadFile):
        raise HTTPException(400, "the audio clip is missing: send it as the multipart part 'clip'")
    encoder = _voice_changer_encoder(form)
    voice_id = str(form.get("voice[id]") or "")
    if not voice_id:
        raise HTTPException(400, "voice[id] is required")
    if not pyworld_available():
        raise HTTPException(400, "the voice changer needs pyworld on the server (pip install pyworld)")
    target = await target_profile(runtime, principal.org_id, voice_id)
    samples, rate = await _read_clip(clip, "clip")
    seconds = len(samples) / rate
    if seconds <= 0:
        raise HTTPException(400, "clip: the file holds no audio")
    if seconds > MAX_CLIP_SECONDS:
        raise HTTPException(400, f"clip: {seconds:.1f} s is longer than the limit of {MAX_CLIP_SECONDS:g} s")
    meter = PrepaidMeter(RequestMeter(runtime.store, principal.org_id, "voice_changer"), per_character=False)
    await meter.prepay(math.ceil(VOICE_CHANGER_CREDITS_PER_SECOND * seconds))
    started = time.perf_counter()
    try:
        converted: Converted = await asyncio.to_thread(
            convert_voice, samples, rate, target, encoder.sample_rate
        )
        chunks = await asyncio.to_thread(_encode, encoder, converted.samples, converted.sample_rate)
    finally:
        meter.audio_seconds = seconds
        with contextlib.suppress(Exception):
            await meter.record()
    log.debug("voice changer plan: %s", converted.plan)
    return encoder, chunks, (time.perf_counter() - started) * 1000


@router.post("/voice-changer/bytes")
async def voice_changer_bytes(request: Request, principal: TtsCaller) -> Response:
    encoder, chunks, _ = await _changed_voice(request, principal)
    return _whole(encoder, chunks)


def _dual_line(message: dict[str, Any]) -> bytes:
    """SDK 2.0.17 reads one JSON object per line; SSE readers (4.x) read the event block after it."""
    text = json.dumps(message, separators=(",", ":"))
    return f"{text}\nevent: {message['type']}\ndata: {text}\n\n".encode()


async def _ndjson(chunks: list[bytes], step_ms: float) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield _dual_line(chunk_message(chunk, step_ms, None))
    yield _dual_line(base_message("done", None, done=True))


@router.post("/voice-changer/sse")
async def voice_changer_sse(request: Request, principal: TtsCaller) -> StreamingResponse:
    _, chunks, elapsed_ms = await _changed_voice(request, principal)
    step_ms = elapsed_ms / max(1, len(chunks))
    return StreamingResponse(_ndjson(chunks, step_ms), media_type="text/event-stream")
