"""speech/asr over a real socket, on real recordings of ../shared/corpus."""

from __future__ import annotations

import asyncio
import base64
import json
import math

import aiohttp
import numpy as np
import pytest
import sphn

from conftest import LiveServer
from wire import audio_frames, corpus_file, corpus_pcm, exchange

CLIP = "en_librivox_ss_0870.wav"  # 7.1 s of read speech


def words_of(result_messages: list[dict[str, object]]) -> list[str]:
    return [str(m["text"]).lower() for m in result_messages if m["type"] == "text"]


async def test_wav_file_in_4096_byte_slices(live_server: LiveServer) -> None:
    data = corpus_file(CLIP).read_bytes()
    result = await exchange(live_server, "speech/asr", audio_frames(data, input_format="wav"))
    ready = result.messages[0]
    assert ready["type"] == "ready"
    assert (ready["sample_rate"], ready["frame_size"], ready["delay_in_frames"]) == (24000, 1920, 10)
    steps = result.of_type("step")
    duration = (len(data) - 44) / 2 / 16000
    assert len(steps) == math.ceil(duration / 0.08 - 1e-6)
    assert [s["step_idx"] for s in steps] == list(range(len(steps)))
    for step in steps:
        horizons = [v["horizon_s"] for v in step["vad"]]
        assert horizons[:3] == [0.5, 1.0, 2.0]
        assert all(0.0 <= v["inactivity_prob"] <= 1.0 for v in step["vad"])
    words = words_of(result.messages)
    assert {"ready", "mother"} & set(words) or len(words) > 5
    texts = result.of_type("text")
    assert [t["start_s"] for t in texts] == sorted(t["start_s"] for t in texts)
    assert len(result.of_type("end_text")) == len(texts)
    assert result.messages[-1]["type"] == "end_of_stream" and result.close_code == 1000


async def test_pcm_24k_gives_the_same_words_as_wav(live_server: LiveServer) -> None:
    pcm = corpus_pcm(CLIP).tobytes()
    from_pcm = await exchange(live_server, "speech/asr", audio_frames(pcm, chunk=3840, input_format="pcm"))
    from_wav = await exchange(
        live_server, "speech/asr", audio_frames(corpus_file(CLIP).read_bytes(), input_format="wav")
    )
    a, b = words_of(from_pcm.messages), words_of(from_wav.messages)
    assert len(set(a) & set(b)) >= 0.7 * max(len(a), len(b))


async def test_opus_input(live_server: LiveServer) -> None:
    pcm = corpus_pcm(CLIP, rate=48000).astype(np.float32) / 32768
    writer = sphn.OpusStreamWriter(48000)
    ogg = b"".join(writer.append_pcm(pcm[i : i + 960]) for i in range(0, len(pcm) - 960, 960))
    result = await exchange(live_server, "speech/asr", audio_frames(ogg, input_format="opus"))
    assert len(words_of(result.messages)) > 5


async def test_vad_rises_in_trailing_silence(live_server: LiveServer) -> None:
    pcm = np.concatenate([corpus_pcm(CLIP), np.zeros(24000 * 3, dtype=np.int16)])
    result = await exchange(
        live_server, "speech/asr", audio_frames(pcm.tobytes(), chunk=3840, input_format="pcm")
    )
    probs = [s["vad"][2]["inactivity_prob"] for s in result.of_type("step")]
    speaking = probs[len(probs) // 4 : len(probs) // 2]
    assert max(speaking) < 0.5 and probs[-1] > 0.7
    tail = probs[-30:]
    assert tail == sorted(tail)


async def test_flush_is_answered_with_flushed(live_server: LiveServer) -> None:
    pcm = corpus_pcm(CLIP).tobytes()
    frames = [
        {"type": "setup", "input_format": "pcm"},
        {"type": "audio", "audio": base64.b64encode(pcm).decode()},
        {"type": "flush", "flush_id": 7},
        {"type": "end_of_stream"},
    ]
    result = await exchange(live_server, "speech/asr", frames)
    assert result.of_type("flushed") == [{"type": "flushed", "flush_id": 7}]


async def test_stt_is_charged_per_second_of_audio(live_server: LiveServer) -> None:
    async def remaining() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                live_server.base_url + "usages/credits", headers={"x-api-key": live_server.api_key}
            ) as response,
        ):
            return int((await response.json())["remaining"])

    before = await remaining()
    pcm = np.zeros(24000 * 5 // 2, dtype=np.int16).tobytes()  # 2.5 s of silence -> 3 credits
    await exchange(live_server, "speech/asr", audio_frames(pcm, input_format="pcm"))
    await asyncio.sleep(0.2)
    assert before - await remaining() == 3


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"language": "ja"}, "language"),
        ({"delay_in_frames": 9}, "delay_in_frames"),
        ({"temp": 1.5}, "temp"),
    ],
)
async def test_bad_stt_config(live_server: LiveServer, config: dict[str, object], needle: str) -> None:
    frames = [{"type": "setup", "input_format": "pcm", "json_config": json.dumps(config)}]
    result = await exchange(live_server, "speech/asr", frames)
    assert needle in result.error()["message"] and result.close_code == 1008


async def test_audio_not_in_announced_format(live_server: LiveServer) -> None:
    result = await exchange(
        live_server, "speech/asr", audio_frames(b"this is not a wav file at all" * 10, input_format="wav")
    )
    assert "WAV" in result.error()["message"] or "wav" in result.error()["message"]
