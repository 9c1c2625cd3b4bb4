"""Protocol errors are logged as structured lines; API keys never reach the log, even at debug."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from conftest import LiveServer, start_server, stop_server
from wire import exchange


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("debug")), "--log-level", "debug")
    yield server
    stop_server(server)


def test_redact_masks_keys_and_credential_headers() -> None:
    from gradium.server.protocol_log import redact

    key = "gd_" + "A1b2C3d4" * 5
    assert key not in redact(f"key {key} used")
    assert (
        redact(f"GET /stt/websocket?api_key={key}&model=ink")
        == "GET /stt/websocket?api_key=[redacted]&model=ink"
    )
    assert "secret-token" not in redact("('authorization', 'Bearer secret-token')")
    assert "secret-token" not in redact("x-api-key: secret-token")


async def test_no_key_in_a_debug_log(debug_server: LiveServer) -> None:
    key = debug_server.api_key
    frames = [
        {"type": "setup", "output_format": "pcm"},
        {"type": "text", "text": "Hi."},
        {"type": "end_of_stream"},
    ]
    await exchange(debug_server, "speech/tts", frames)
    await exchange(debug_server, "speech/tts", [{"type": "setup", "voice_id": "nope"}])
    url = f"ws://{debug_server.host}:{debug_server.port}/stt/websocket?api_key={key}&model=ink-whisper"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + "&encoding=pcm_s16le&sample_rate=16000") as ws:
            await ws.send_str("what?")
            await ws.receive()
            await ws.send_str("done")
            async for _ in ws:
                pass
        async with session.get(
            f"{debug_server.root_url}/v1/models", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            assert response.status == 200
    log = debug_server.log()
    assert "DEBUG" in log  # the level really is debug
    assert key not in log.replace(f"store it now): {key}", ""), "an API key reached the log"
    assert key[:12] not in log.replace(f"store it now): {key}", "")
    lines = [line for line in log.splitlines() if "protocol error" in line]
    gradium = next(line for line in lines if "protocol=gradium" in line)
    assert re.search(
        r"route=/api/speech/tts request_id=\S+ code=1008 message=\"unknown voice_id 'nope'", gradium
    )
    assert any("protocol=cartesia route=/stt/websocket" in line and "code=400" in line for line in lines)
