"""The Gradium routes as pipecat and LiveKit Agents drive them: their exact messages, on a real socket."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from conftest import LiveServer
from wire import corpus_pcm, exchange

CLIP = "en_librivox_ss_0870.wav"


def pcm_audio_frames(pcm: bytes, chunk: int) -> list[dict[str, object]]:
    return [
        {"type": "audio", "audio": base64.b64encode(pcm[i : i + chunk]).decode()}
        for i in range(0, len(pcm), chunk)
    ]


async def test_pipecat_stt_string_flush_ids_and_ready(live_server: LiveServer) -> None:
    """pipecat sends flush ids as strings ("1", "2", ...): they are echoed back as given."""
    pcm = corpus_pcm(CLIP, rate=16000).tobytes()
    half = len(pcm) // 2 // 2560 * 2560
    frames = [
        {"type": "setup", "model_name": "default", "input_format": "pcm_16000",
         "json_config": {"language": "en", "delay_in_frames": 12}},
        *pcm_audio_frames(pcm[:half], 2560),
        {"type": "flush", "flush_id": "1"},
        *pcm_audio_frames(pcm[half:], 2560),
        {"type": "flush", "flush_id": "2"},
        {"type": "flush", "flush_id": 3},
        {"type": "end_of_stream"},
    ]
    result = await exchange(live_server, "speech/asr", frames)
    ready = result.messages[0]
    assert ready["type"] == "ready"
    assert ready["delay_in_frames"] == 12 and ready["delay_in_tokens"] == 12
    assert [m["flush_id"] for m in result.of_type("flushed")] == ["1", "2", 3]
    assert len(result.of_type("text")) > 5
    assert result.of_type("error") == [] and result.close_code == 1000


@pytest.mark.parametrize("bad", [1.5, True, None, [1]])
async def test_flush_id_of_another_type_is_refused(live_server: LiveServer, bad: object) -> None:
    frames = [{"type": "setup", "input_format": "pcm"}, {"type": "flush", "flush_id": bad}]
    if bad is None:
        frames[1] = {"type": "flush", "flush_id": {"a": 1}}
    result = await exchange(live_server, "speech/asr", frames)
    assert "flush_id" in result.error()["message"]


async def test_language_any_detects(live_server: LiveServer) -> None:
    pcm = corpus_pcm(CLIP).tobytes()
    frames = [
        {"type": "setup", "input_format": "pcm", "json_config": json.dumps({"language": "any"})},
        *pcm_audio_frames(pcm, 3840),
        {"type": "end_of_stream"},
    ]
    result = await exchange(live_server, "speech/asr", frames)
    assert result.messages[0]["type"] == "ready"
    assert len(result.of_type("text")) > 5 and result.close_code == 1000


@pytest.mark.parametrize(
    "voice_id",
    ["_6Aslh2DxfmnRLmP", "vjFyp2BcCyTlUmYb", "4SZHfMpw-p46Ywgs"],
    ids=["pipecat-russell", "livekit-everly", "livekit-harper"],
)
async def test_framework_default_voices_speak(live_server: LiveServer, voice_id: str) -> None:
    """pipecat's multiplexed setup and LiveKit's per-segment socket, with their default voice ids."""
    frames = [
        {"type": "setup", "output_format": "pcm", "voice_id": voice_id,
         "close_ws_on_eos": False, "client_req_id": "ctx-1"},
        {"type": "text", "text": "Hello there. ", "client_req_id": "ctx-1"},
        {"type": "end_of_stream", "client_req_id": "ctx-1"},
        {"type": "end_of_stream"},
    ]
    result = await exchange(live_server, "speech/tts", frames)
    assert result.of_type("error") == [], result.messages
    audio = np.frombuffer(result.audio(), dtype=np.int16)
    assert len(audio) > 48000 * 0.3 and np.abs(audio).max() > 1000
    assert result.of_type("text") and all(m["client_req_id"] == "ctx-1" for m in result.messages)


async def test_aliased_voice_sounds_like_its_target(live_server: LiveServer) -> None:
    async def render(voice_id: str) -> bytes:
        frames = [
            {"type": "setup", "output_format": "pcm", "voice_id": voice_id, "model_name": "default",
             "json_config": json.dumps({"temp": 0.0})},
            {"type": "text", "text": "One two three."},
            {"type": "end_of_stream"},
        ]
        return (await exchange(live_server, "speech/tts", frames)).audio()

    assert await render("_6Aslh2DxfmnRLmP") == await render("LFZvm12tW_z0xfGo")


def test_alias_table_targets_catalog_voices_of_the_same_gender() -> None:
    from gradium.catalog import load_catalog
    from gradium.catalog.aliases import VOICE_ALIASES

    catalog = load_catalog()
    genders = {"Russell": "Masculine", "Everly": "Feminine", "Harper": "Feminine", "Katie": "Feminine"}
    for alias_id, alias in VOICE_ALIASES.items():
        target = catalog[alias.target_uid]
        assert alias_id not in catalog
        assert (target.language, target.country, target.gender) == ("en", "us", genders[alias.name])
