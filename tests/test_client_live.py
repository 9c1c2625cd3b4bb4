"""Our client against the real ``gradium serve``: TTS, STT, realtime, account, voices, errors."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soxr

import gradium
from conftest import CORPUS, LiveServer
from gradium import errors

pytestmark = pytest.mark.asyncio(loop_scope="session")

VOICE = "YTpq7expH9539ERJ"
CLIP = CORPUS / "en_librivox_ss_0870.wav"


def clip_24k() -> np.ndarray:
    with wave.open(str(CLIP)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return soxr.resample(samples.astype(np.float32) / 32768.0, rate, 24000).astype(np.float32)


def client_for(live_server: LiveServer, **kwargs: object) -> gradium.client.GradiumClient:
    return gradium.client.GradiumClient(api_key=live_server.api_key, base_url=live_server.base_url, **kwargs)  # type: ignore[arg-type]


async def test_tts_pcm_and_timestamps(live_server: LiveServer) -> None:
    async with client_for(live_server) as client:
        result = await client.tts({"voice_id": VOICE, "output_format": "pcm"}, "Hello world, this is a test.")
    assert result.sample_rate == 48000
    assert result.request_id
    pcm = result.pcm16()
    assert len(pcm) > 48000 * 0.5 and np.abs(pcm).max() > 1000
    words = result.text_with_timestamps
    assert words and [w.start_s for w in words] == sorted(w.start_s for w in words)
    assert all(w.stop_s >= w.start_s for w in words)


async def test_tts_stream_with_async_generator(live_server: LiveServer) -> None:
    async def text() -> AsyncIterator[str]:
        for piece in ("Hello, ", "this is ", "a streaming ", "example."):
            yield piece
            await asyncio.sleep(0.01)

    async with client_for(live_server) as client:
        stream = await client.tts_stream({"voice_id": VOICE, "output_format": "pcm"}, text())
        chunks = [chunk async for chunk in stream.iter_bytes()]
    assert len(chunks) > 1 and all(len(c) % 2 == 0 for c in chunks)
    assert stream.text_with_timestamps


async def test_tts_then_stt_roundtrip_has_real_stop_times(live_server: LiveServer) -> None:
    async with client_for(live_server) as client:
        result = await client.stt({"input_format": "pcm"}, clip_24k(), sample_rate=24000)
    text = result.text.lower()
    assert "dashwood" in text or "leisure" in text or "consider" in text, result.text
    segments = result.text_with_timestamps
    assert segments and all(s.stop_s >= s.start_s for s in segments)
    assert any(s.stop_s > s.start_s for s in segments)  # end_text folded in
    assert [s.start_s for s in segments] == sorted(s.start_s for s in segments)


async def test_stt_wav_bytes(live_server: LiveServer) -> None:
    async with client_for(live_server) as client:
        result = await client.stt({"input_format": "wav"}, CLIP.read_bytes())
    assert result.text and result.request_id


async def test_stt_realtime_flush(live_server: LiveServer) -> None:
    audio = (clip_24k() * 32768).clip(-32768, 32767).astype(np.int16)
    async with client_for(live_server) as client, client.stt_realtime(input_format="pcm") as stt:
        for start in range(0, len(audio), 1920):
            await stt.send_audio(audio[start : start + 1920])
        await stt.send_flush(7)
        await stt.send_eos()
        kinds: list[str] = []
        async for msg in stt:
            kinds.append(msg["type"])
            if msg["type"] == "flushed":
                assert msg["flush_id"] == 7
        assert stt.ready is not None
    assert kinds[0] == "ready"
    assert {"text", "step", "flushed"} <= set(kinds)


async def test_tts_realtime(live_server: LiveServer) -> None:
    async with client_for(live_server) as client:
        async with client.tts_realtime(voice_id=VOICE, output_format="pcm") as tts:
            await tts.send_text("Realtime synthesis works.")
            await tts.send_eos()
            audio = b"".join([msg["audio"] async for msg in tts if msg["type"] == "audio"])
        assert len(audio) > 48000


async def test_account_endpoints(live_server: LiveServer) -> None:
    async with client_for(live_server) as client:
        credits = await gradium.usages.get(client)
        assert isinstance(credits, dict) and credits
        summary = await gradium.usages.summary(client)
        assert isinstance(summary, dict)
        voices = await gradium.voices.get(client)
        assert isinstance(voices, list)
        catalog = await client.voice_get(include_catalog=True)
        assert any(v.get("uid") == VOICE for v in catalog)


async def test_bad_key_is_typed(live_server: LiveServer) -> None:
    client = gradium.client.GradiumClient(api_key="gd_wrong", base_url=live_server.base_url)
    try:
        with pytest.raises(errors.AuthenticationError):
            await client.credits()
        with pytest.raises(errors.AuthenticationError):
            await client.tts({"voice_id": VOICE, "output_format": "wav"}, "x")
    finally:
        await client.aclose()


async def test_not_found_voice(live_server: LiveServer) -> None:
    async with client_for(live_server) as client:
        with pytest.raises(errors.NotFoundError):
            await client.voice_get("doesnotexist0000")


async def test_custom_voice_lifecycle(live_server: LiveServer, tmp_path: Path) -> None:
    sample = tmp_path / "sample.wav"
    sample.write_bytes(CLIP.read_bytes())
    async with client_for(live_server) as client:
        try:
            voice = await gradium.voices.create(client, audio_file=str(sample), name="Mine", start_s=0.0)
        except (errors.NotFoundError, errors.InvalidRequestError) as exc:
            pytest.skip(f"the server does not support custom voices yet: {exc}")
        uid = voice["uid"]
        got = await gradium.voices.get(client, voice_uid=uid)
        assert got["name"] == "Mine"
        updated = await gradium.voices.update(client, voice_uid=uid, name="Renamed", start_s=1.5)
        assert updated["name"] == "Renamed"
        await gradium.voices.delete(client, voice_uid=uid)
        with pytest.raises(errors.NotFoundError):
            await gradium.voices.get(client, voice_uid=uid)
