"""Bad input never crashes the server: a clear error, close 1008, and everyone else keeps being served."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from conftest import LiveServer, start_server, stop_server
from wire import exchange, tts_frames


async def http(
    server: LiveServer, method: str, route: str, key: str | None = None, **kwargs: object
) -> tuple[int, str, object]:
    headers = {} if key == "" else {"x-api-key": key or server.api_key}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            server.base_url + route,
            headers=headers,
            **kwargs,  # type: ignore[arg-type]
        ) as response,
    ):
        body = await response.json(content_type=None)
        return response.status, response.content_type, body


@pytest.mark.parametrize("key", ["", "gd_not_a_real_key"])
async def test_http_rejects_missing_or_unknown_key(live_server: LiveServer, key: str) -> None:
    status, content_type, body = await http(live_server, "GET", "usages/credits", key=key)
    assert status == 401 and content_type == "application/json"
    assert isinstance(body, dict) and "API key" in body["detail"]


@pytest.mark.parametrize("route", ["speech/tts", "speech/asr"])
async def test_websocket_rejects_bad_key_with_error_then_1008(live_server: LiveServer, route: str) -> None:
    result = await exchange(live_server, route, [], api_key="gd_wrong")
    assert result.messages == [{"type": "error", "message": "invalid or revoked API key", "code": 1008}]
    assert result.close_code == 1008


async def test_revoked_key_is_rejected(live_server: LiveServer) -> None:
    created = live_server.cli(
        "keys", "create", "--name", "temp", "--json", "--data-dir", str(live_server.data_dir)
    )
    assert created.returncode == 0, created.stderr
    import json

    info = json.loads(created.stdout)
    assert (await http(live_server, "GET", "usages/credits", key=info["key"]))[0] == 200
    revoked = live_server.cli(
        "keys",
        "revoke",
        str(info["id"]),
        "--data-dir",
        str(live_server.data_dir),
    )
    assert revoked.returncode == 0, revoked.stderr
    assert (await http(live_server, "GET", "usages/credits", key=info["key"]))[0] == 401


BAD_FRAMES = {
    "invalid JSON": (["{not json"], "invalid JSON"),
    "not an object": (["[1, 2]"], "JSON object"),
    "no type": ([{"text": "hi"}], '"type"'),
    "text before setup": ([{"type": "text", "text": "hi"}], "before setup"),
    "second setup": ([{"type": "setup"}, {"type": "setup"}], "second setup"),
    "unknown type": ([{"type": "setup"}, {"type": "dance"}], "unknown message type"),
    "binary frame": ([b"\x00\x01"], "binary"),
    "unknown voice": ([{"type": "setup", "voice_id": "nope"}], "unknown voice_id"),
    "unknown format": ([{"type": "setup", "output_format": "mp5"}], "output format"),
    "text not a string": ([{"type": "setup"}, {"type": "text", "text": 5}], "string"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
async def test_tts_bad_input(live_server: LiveServer, case: str) -> None:
    frames, needle = BAD_FRAMES[case]
    result = await exchange(live_server, "speech/tts", frames)
    assert needle in result.error()["message"]
    assert result.error()["code"] == 1008 and result.close_code == 1008


async def test_asr_invalid_base64(live_server: LiveServer) -> None:
    frames = [{"type": "setup", "input_format": "pcm"}, {"type": "audio", "audio": "@@not base64@@"}]
    result = await exchange(live_server, "speech/asr", frames)
    assert "base64" in result.error()["message"] and result.close_code == 1008


async def test_text_over_the_limit(live_server: LiveServer) -> None:
    result = await exchange(live_server, "speech/tts", tts_frames("word " * 25_000))
    assert "limit" in result.error()["message"]


async def test_bad_clients_do_not_disturb_a_good_one(live_server: LiveServer) -> None:
    good = exchange(live_server, "speech/tts", tts_frames("A good request still works.", output_format="pcm"))
    bad = [exchange(live_server, "speech/tts", ["{oops"]) for _ in range(10)]
    results = await asyncio.gather(good, *bad)
    assert results[0].messages[-1]["type"] == "end_of_stream" and results[0].audio()
    assert all(r.close_code == 1008 for r in results[1:])


async def test_http_unknown_voice_is_404_json(live_server: LiveServer) -> None:
    status, content_type, body = await http(live_server, "GET", "voices/nope")
    assert status == 404 and content_type == "application/json" and "nope" in body["detail"]  # type: ignore[index]


async def test_http_tts_validation_error_is_a_string_detail(live_server: LiveServer) -> None:
    status, _, body = await http(live_server, "POST", "post/speech/tts", json={"voice_id": "x"})
    assert status == 422 and isinstance(body["detail"], str) and "text" in body["detail"]  # type: ignore[index]


@pytest.fixture(scope="module")
def short_idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("idle")), env={"GRADIUM_IDLE_TIMEOUT_S": "1"})
    yield server
    stop_server(server)


async def test_idle_socket_times_out(short_idle_server: LiveServer) -> None:
    result = await exchange(
        short_idle_server, "speech/tts", [{"type": "setup"}, {"type": "text", "text": "Hi"}]
    )
    assert "idle timeout" in result.error()["message"] and result.close_code == 1008


async def test_insufficient_credits(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--initial-credits", "30")
    try:
        text = "This first sentence fits. But this second sentence is well beyond the remaining credit."
        result = await exchange(server, "speech/tts", tts_frames(text, output_format="pcm"))
        assert "insufficient credits" in result.error()["message"]
        assert [w["text"] for w in result.of_type("text")][:2] == ["This", "first"]
        status, _, body = await http(server, "GET", "usages/credits")
        assert body["remaining"] == 30 - len("This first sentence fits.")  # type: ignore[index]
        status, _, body = await http(server, "POST", "post/speech/tts", json={"text": "x" * 40})
        assert status == 402 and "insufficient credits" in body["detail"]  # type: ignore[index]
    finally:
        stop_server(server)


async def test_audio_message_over_the_limit(live_server: LiveServer) -> None:
    big = base64.b64encode(bytes(5 * 1024 * 1024)).decode()
    frames = [{"type": "setup", "input_format": "pcm"}, {"type": "audio", "audio": big}]
    result = await exchange(live_server, "speech/asr", frames)
    assert "larger than" in result.error()["message"] and result.close_code == 1008
