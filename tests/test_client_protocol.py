"""The client against a scripted in-process WebSocket server: failure modes the real server
should never produce (drops, silence, missing close) but that the client must survive."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from aiohttp import web

import gradium
from gradium import errors

# The fixture server and the tests must share one event loop.
pytestmark = pytest.mark.asyncio(loop_scope="session")

Script = Callable[[web.WebSocketResponse, list[dict[str, Any]]], Awaitable[None]]


class FakeServer:
    def __init__(self) -> None:
        self.script: Script | None = None
        self.received: list[dict[str, Any]] = []
        self.headers: dict[str, str] = {}
        self.base_url = ""
        self.sessions = 0

    async def handler(self, request: web.Request) -> web.StreamResponse:
        self.headers = dict(request.headers)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.received = []
        assert self.script is not None
        await self.script(ws, self.received)
        return ws

    async def credits(self, request: web.Request) -> web.Response:
        if request.headers.get("x-api-key") != "good":
            return web.json_response({"detail": "invalid API key"}, status=401)
        return web.json_response({"remaining": 10})


async def read_until_eos(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
    async for msg in ws:
        data = json.loads(msg.data)
        received.append(data)
        if data["type"] == "end_of_stream":
            return


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    server = FakeServer()
    app = web.Application()
    app.router.add_get("/api/speech/{kind}", server.handler)
    app.router.add_get("/api/usages/credits", server.credits)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base_url = f"http://127.0.0.1:{port}/api"
    yield server
    await runner.cleanup()


async def test_tts_wire_format_and_result(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        await read_until_eos(ws, received)
        await ws.send_json({"type": "ready", "request_id": "r1", "sample_rate": 48000})
        await ws.send_json({"type": "audio", "audio": b64(b"\x01\x00\x02\x00")})
        await ws.send_json({"type": "text", "text": "Hi", "start_s": 0.1, "stop_s": 0.3})
        await ws.send_json({"type": "audio", "audio": b64(b"\x03\x00")})
        await ws.send_json({"type": "end_of_stream"})
        await ws.close()

    fake.script = script
    async with gradium.client.GradiumClient(api_key="good", base_url=fake.base_url) as client:
        setup = {"voice_id": "v", "output_format": "pcm", "json_config": {"temp": 0.1}}
        result = await client.tts(setup, "Hi")
        session = await client._transport.session()
        await client.tts({"output_format": "pcm"}, ["a", "b"])
        assert await client._transport.session() is session  # one pooled session per client
    assert result.raw_data == b"\x01\x00\x02\x00\x03\x00"
    assert result.pcm16().tolist() == [1, 2, 3]
    assert (result.sample_rate, result.request_id, result.output_format) == (48000, "r1", "pcm")
    [word] = result.text_with_timestamps
    assert (word.text, word.start_s, word.stop_s) == ("Hi", 0.1, 0.3)
    assert [m["type"] for m in fake.received] == ["setup", "text", "text", "end_of_stream"]
    assert fake.headers["x-api-key"] == "good"


async def test_stt_stop_s_comes_from_end_text(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        await read_until_eos(ws, received)
        await ws.send_json({"type": "ready", "request_id": "s1", "delay_in_frames": 16})
        await ws.send_json({"type": "text", "text": "hello", "start_s": 0.5, "stream_id": 0})
        await ws.send_json({"type": "step", "vad": [{"horizon_s": 0.5, "inactivity_prob": 0.1}] * 3})
        await ws.send_json({"type": "end_text", "stop_s": 0.9, "stream_id": 0})
        await ws.send_json({"type": "text", "text": "world", "start_s": 1.0, "stream_id": 0})
        await ws.send_json({"type": "end_text", "stop_s": 1.4, "stream_id": 0})
        await ws.send_json({"type": "end_of_stream"})
        await ws.close()

    fake.script = script
    async with gradium.client.GradiumClient(api_key="good", base_url=fake.base_url) as client:
        audio = np.ones(4000, dtype=np.float32)
        result = await client.stt({"input_format": "pcm"}, audio, sample_rate=24000)
    assert result.text == "hello world"
    assert [(s.start_s, s.stop_s) for s in result.segments] == [(0.5, 0.9), (1.0, 1.4)]
    assert result.request_id == "s1"
    sent = b"".join(base64.b64decode(m["audio"]) for m in fake.received if m["type"] == "audio")
    assert np.frombuffer(sent, np.int16).tolist() == [32767] * 4000  # clipped, not wrapped


async def test_server_error_message_raises_typed_error(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        await ws.receive()
        await ws.send_json({"type": "error", "message": "invalid api key", "code": 1008})
        await ws.close(code=1008)

    fake.script = script
    async with gradium.client.GradiumClient(api_key="bad", base_url=fake.base_url) as client:
        with pytest.raises(errors.AuthenticationError) as info:
            await client.tts({"output_format": "wav"}, "x")
    assert info.value.code == 1008


async def test_dropped_connection_raises_instead_of_spinning(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        await ws.receive()
        await ws.send_json({"type": "ready", "request_id": "d"})
        await ws.send_json({"type": "audio", "audio": b64(b"\x00\x00")})
        await asyncio.sleep(0.05)
        transport = ws._req.transport  # type: ignore[union-attr]
        assert transport is not None
        transport.abort()  # TCP reset, no close frame

    fake.script = script
    async with gradium.client.GradiumClient(api_key="good", base_url=fake.base_url) as client:
        cpu, wall = time.process_time(), time.monotonic()
        with pytest.raises(errors.ConnectionClosedError):
            await client.tts({"output_format": "pcm"}, "x")
        async with client.tts_realtime(output_format="pcm") as tts:
            await tts.send_text("x")
            with pytest.raises(errors.ConnectionClosedError):
                async for _msg in tts:
                    pass
        assert time.monotonic() - wall < 5
        assert time.process_time() - cpu < 2


async def test_idle_timeout(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        await ws.receive()
        await ws.send_json({"type": "ready"})
        await asyncio.sleep(3)

    fake.script = script
    client = gradium.client.GradiumClient(api_key="good", base_url=fake.base_url, read_timeout=0.3)
    async with client:
        with pytest.raises(errors.GradiumTimeoutError):
            await client.tts({"output_format": "pcm"}, "x")


async def test_one_shot_ends_at_end_of_stream_without_close(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        await read_until_eos(ws, received)
        await ws.send_json({"type": "ready"})
        await ws.send_json({"type": "audio", "audio": b64(b"ab")})
        await ws.send_json({"type": "end_of_stream"})
        await ws.receive()  # waits for the client to close (close_ws_on_eos: false)

    fake.script = script
    client = gradium.client.GradiumClient(api_key="good", base_url=fake.base_url, read_timeout=5)
    async with client:
        setup = {"output_format": "pcm", "close_ws_on_eos": False}
        result = await asyncio.wait_for(client.tts(setup, "x"), 3)
    assert result.raw_data == b"ab"


async def test_failing_text_iterator_surfaces(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        await ws.receive()
        await ws.send_json({"type": "ready"})
        async for _ in ws:
            pass

    async def broken() -> AsyncIterator[str]:
        yield "a"
        raise KeyError("from the generator")

    fake.script = script
    async with gradium.client.GradiumClient(api_key="good", base_url=fake.base_url) as client:
        with pytest.raises(KeyError, match="from the generator"):
            await asyncio.wait_for(client.tts({"output_format": "pcm"}, broken()), 5)


async def test_realtime_multiplexing(fake: FakeServer) -> None:
    async def script(ws: web.WebSocketResponse, received: list[dict[str, Any]]) -> None:
        async for msg in ws:
            data = json.loads(msg.data)
            received.append(data)
            rid = data.get("client_req_id")
            if data["type"] == "setup":
                await ws.send_json({"type": "ready", "client_req_id": rid})
            elif data["type"] == "text":
                audio = b64(data["text"].encode())
                await ws.send_json({"type": "audio", "audio": audio, "client_req_id": rid})
            elif data["type"] == "end_of_stream":
                await ws.send_json({"type": "end_of_stream", "client_req_id": rid})
                if rid is None:
                    await ws.close()

    fake.script = script
    client = gradium.client.GradiumClient(api_key="good", base_url=fake.base_url)
    async with client, client.tts_realtime(send_setup_on_start=False) as tts:
        for rid in ("a", "b"):
            await tts.send_setup({"output_format": "pcm", "close_ws_on_eos": False, "client_req_id": rid})
            await tts.send_text(f"text-{rid}", client_req_id=rid)
            await tts.send_eos(client_req_id=rid)
        audio: dict[str, bytes] = {}
        async for msg in tts:
            if msg["type"] == "audio":
                audio[msg["client_req_id"]] = msg["audio"]
            if tts.requests_done["a"] and tts.requests_done["b"]:
                break
        assert tts.ready is not None and tts.ready["client_req_id"] == "a"
    assert audio == {"a": b"text-a", "b": b"text-b"}


async def test_http_errors_and_lazy_session(fake: FakeServer) -> None:
    client = gradium.client.GradiumClient(api_key="bad", base_url=fake.base_url)
    with pytest.raises(errors.AuthenticationError) as info:
        await client.credits()
    assert info.value.status == 401 and "invalid API key" in str(info.value)
    good = gradium.client.GradiumClient(api_key="good", base_url=fake.base_url)
    assert await gradium.usages.get(good) == {"remaining": 10}
    await client.aclose()
    await good.aclose()
