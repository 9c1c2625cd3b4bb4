"""speech/tts over a real socket: formats, tags, json_config, timestamps, streaming, multiplexing."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import numpy as np
import pytest
import sphn

from conftest import LiveServer
from wire import exchange, read_wav, tts_frames

EMMA = "YTpq7expH9539ERJ"
SENTENCE = "Hello, this is a test from the Gradium text to speech system."


async def test_wav_output_is_one_valid_48k_stream(live_server: LiveServer) -> None:
    result = await exchange(
        live_server, "speech/tts", tts_frames(SENTENCE, voice_id=EMMA, output_format="wav")
    )
    ready = result.messages[0]
    assert ready["type"] == "ready" and ready["sample_rate"] == 48000 and ready["request_id"]
    assert result.messages[-1] == {"type": "end_of_stream"}
    assert result.close_code == 1000
    samples, rate = read_wav(result.audio())
    assert rate == 48000
    assert 2.0 < len(samples) / rate < 8.0
    assert np.abs(samples.astype(np.int32)).max() > 3000


@pytest.mark.parametrize(
    ("fmt", "rate", "bytes_per_sample"),
    [
        ("pcm", 48000, 2),
        ("pcm_16000", 16000, 2),
        ("pcm_24000", 24000, 2),
        ("ulaw_8000", 8000, 1),
        ("alaw_8000", 8000, 1),
    ],
)
async def test_raw_formats_come_in_80ms_chunks(
    live_server: LiveServer, fmt: str, rate: int, bytes_per_sample: int
) -> None:
    result = await exchange(live_server, "speech/tts", tts_frames(SENTENCE, output_format=fmt))
    assert result.messages[0]["sample_rate"] == rate
    chunks = [base64.b64decode(m["audio"]) for m in result.of_type("audio")]
    frame_bytes = rate * 80 // 1000 * bytes_per_sample
    assert all(len(c) == frame_bytes for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= frame_bytes
    assert 2.0 < sum(map(len, chunks)) / bytes_per_sample / rate < 8.0


async def test_opus_output_is_one_ogg_stream(live_server: LiveServer) -> None:
    result = await exchange(live_server, "speech/tts", tts_frames(SENTENCE, output_format="opus"))
    data = result.audio()
    assert data.startswith(b"OggS")
    pcm, rate = sphn.read_opus_bytes(data)
    assert rate == 48000 and 2.0 < pcm.shape[-1] / rate < 8.0


async def test_word_timestamps_cover_every_word_in_order(live_server: LiveServer) -> None:
    result = await exchange(live_server, "speech/tts", tts_frames(SENTENCE, output_format="pcm"))
    words = result.of_type("text")
    spoken = [w["text"].strip(",.").lower() for w in words]
    assert spoken == [w.strip(",.").lower() for w in SENTENCE.split()]
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts)
    assert all(w["start_s"] < w["stop_s"] for w in words)
    duration = len(result.audio()) / 2 / 48000
    assert words[-1]["stop_s"] <= duration + 0.05


async def test_break_inserts_silence_and_is_not_charged(live_server: LiveServer) -> None:
    plain = await exchange(
        live_server, "speech/tts", tts_frames("One. Two.", output_format="pcm", json_config={"temp": 0})
    )
    paused = await exchange(
        live_server,
        "speech/tts",
        tts_frames('One. <break time="1.5s" /> Two.', output_format="pcm", json_config={"temp": 0}),
    )
    extra = (len(paused.audio()) - len(plain.audio())) / 2 / 48000
    assert 1.4 < extra < 1.7
    assert [w["text"].strip(".") for w in paused.of_type("text")] == ["One", "Two"]


@pytest.mark.parametrize("tag", ['<break time="3s" />', '<break time="0.05s" />', '<break time="soon" />'])
async def test_break_out_of_range_is_an_error(live_server: LiveServer, tag: str) -> None:
    result = await exchange(live_server, "speech/tts", tts_frames(f"Hello {tag} world", output_format="pcm"))
    assert "break" in result.error()["message"] and result.error()["code"] == 1008


async def test_temp_zero_gives_identical_bytes(live_server: LiveServer) -> None:
    frames = tts_frames(SENTENCE, output_format="pcm", json_config=json.dumps({"temp": 0}))
    first, second = [await exchange(live_server, "speech/tts", frames) for _ in range(2)]
    assert first.audio() == second.audio()


async def test_padding_bonus_changes_speed(live_server: LiveServer) -> None:
    durations = {}
    for bonus in (-2.0, 0.0, 2.0):
        frames = tts_frames(SENTENCE, output_format="pcm", json_config={"padding_bonus": bonus, "temp": 0})
        durations[bonus] = len((await exchange(live_server, "speech/tts", frames)).audio())
    assert durations[-2.0] < durations[0.0] < durations[2.0]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"padding_bonus": 5}, "padding_bonus"),
        ({"temp": 2}, "temp"),
        ({"cfg_coef": 0.5}, "cfg_coef"),
        ({"temp": "hot"}, "temp"),
        ({"rewrite_rules": 3}, "rewrite_rules"),
    ],
)
async def test_bad_json_config_names_the_key(
    live_server: LiveServer, config: dict[str, object], key: str
) -> None:
    result = await exchange(live_server, "speech/tts", tts_frames("Hi.", json_config=config))
    assert key in result.error()["message"]
    assert result.close_code == 1008


async def test_rewrite_rules_speak_numbers(live_server: LiveServer) -> None:
    frames = tts_frames("It costs $42.", output_format="pcm", json_config={"rewrite_rules": "en"})
    words = [w["text"].lower() for w in (await exchange(live_server, "speech/tts", frames)).of_type("text")]
    assert any("forty" in w for w in words)


async def test_text_streamed_word_by_word_is_spoken_before_end_of_stream(live_server: LiveServer) -> None:
    """The first clause must come back while the socket still waits for more text."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            live_server.base_url.replace("http", "ws") + "speech/tts",
            headers={"x-api-key": live_server.api_key},
        ) as ws,
    ):
        await ws.send_json({"type": "setup", "output_format": "pcm"})
        for word in ["Good", "morning,", "everyone"]:
            await ws.send_json({"type": "text", "text": word})
        got_audio = False
        async with asyncio.timeout(10):
            while not got_audio:
                message = json.loads((await ws.receive()).data)
                got_audio = message["type"] == "audio"
        await ws.send_json({"type": "text", "text": "and welcome."})
        await ws.send_json({"type": "end_of_stream"})
        types = [json.loads(m.data)["type"] async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
        assert types[-1] == "end_of_stream"


async def test_flush_forces_audio_out(live_server: LiveServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            live_server.base_url.replace("http", "ws") + "speech/tts",
            headers={"x-api-key": live_server.api_key},
        ) as ws,
    ):
        await ws.send_json({"type": "setup", "output_format": "pcm"})
        await ws.send_json({"type": "text", "text": "no punctuation here <flush>"})
        words: list[str] = []
        async with asyncio.timeout(10):
            while len(words) < 3:
                message = json.loads((await ws.receive()).data)
                if message["type"] == "text":
                    words.append(message["text"])
        assert words == ["no", "punctuation", "here"]
        await ws.send_json({"type": "end_of_stream"})


async def test_multiplexed_requests_on_one_socket(live_server: LiveServer) -> None:
    frames = []
    for rid in ("a", "b"):
        frames.append(
            {"type": "setup", "output_format": "pcm", "client_req_id": rid, "close_ws_on_eos": False}
        )
    frames += [
        {"type": "text", "text": "First request.", "client_req_id": "a"},
        {"type": "text", "text": "Second one.", "client_req_id": "b"},
        {"type": "end_of_stream", "client_req_id": "a"},
        {"type": "end_of_stream", "client_req_id": "b"},
        {"type": "end_of_stream"},
    ]
    result = await exchange(live_server, "speech/tts", frames)
    assert result.close_code == 1000
    for rid, words in (("a", ["First", "request"]), ("b", ["Second", "one"])):
        mine = [m for m in result.messages if m.get("client_req_id") == rid]
        assert [m["type"] for m in mine].count("ready") == 1
        assert [m["text"].strip(".") for m in mine if m["type"] == "text"] == words
        assert mine[-1]["type"] == "end_of_stream"
    assert all("client_req_id" in m for m in result.messages)


async def test_duplicate_active_client_req_id_is_rejected(live_server: LiveServer) -> None:
    setup = {"type": "setup", "client_req_id": "x", "close_ws_on_eos": False}
    result = await exchange(live_server, "speech/tts", [setup, setup, {"type": "end_of_stream"}])
    # A multiplexed request's error ends that setup only: the first "x" goes on to its end.
    assert "already active" in result.error()["message"] and result.error()["client_req_id"] == "x"
    assert result.messages[-1] == {"type": "end_of_stream", "client_req_id": "x"}


async def test_http_post_tts_returns_a_wav_file(live_server: LiveServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            live_server.base_url + "post/speech/tts",
            json={"text": "Hello there.", "voice_id": EMMA, "output_format": "wav", "only_audio": True},
            headers={"x-api-key": live_server.api_key},
        ) as response,
    ):
        assert response.status == 200 and response.content_type == "audio/wav"
        samples, rate = read_wav(await response.read())
    assert rate == 48000 and len(samples) > 0.5 * rate


@pytest.mark.parametrize(
    "message",
    [
        {"type": "audio", "audio": "QUJD+/8="},
        {"type": "audio", "audio": "", "client_req_id": 'a"\\b\u00e9'},
        {"audio": "QQ=="},
        {"type": "text", "text": 'quote " and \\ and \u00e9', "start_s": 0.5},
    ],
)
def test_server_messages_encode_to_the_json_they_hold(message: dict[str, object]) -> None:
    from gradium.server.protocols.gradium.connection import encode_message

    assert json.loads(encode_message(message)) == message


def test_cartesia_frames_splice_their_data_payload() -> None:
    from gradium.server.protocols.json_frames import encode_frame

    message = {"type": "chunk", "data": "AAEC", "done": False, "status_code": 206, "context_id": 'c"1'}
    assert json.loads(encode_frame(message, "data")) == message
    assert json.loads(encode_frame({"type": "done", "data": None}, "data")) == {"type": "done", "data": None}
