"""Multiplexed Gradium sockets as voice agents use them: request-scoped errors, cancel, idle policy."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import LiveServer, start_server, stop_server

LONG = " ".join(["This sentence is here to keep the engine busy for quite a while."] * 10)


def setup(rid: str, **extra: Any) -> dict[str, Any]:
    return {"type": "setup", "output_format": "pcm", "client_req_id": rid, "close_ws_on_eos": False, **extra}


class Peer:
    """A raw socket to speech/tts that sends when told and records what came, with arrival times."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[tuple[float, dict[str, Any]]] = []

    async def send(self, *messages: dict[str, Any]) -> None:
        for message in messages:
            await self.ws.send_str(json.dumps(message))

    async def until(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket ended: {msg.type} {self.ws.close_code}")
                message = json.loads(msg.data)
                self.messages.append((time.monotonic(), message))
                if predicate(message):
                    return message

    def of(self, rid: str, kind: str | None = None) -> list[dict[str, Any]]:
        mine = [m for _, m in self.messages if m.get("client_req_id") == rid]
        return [m for m in mine if kind is None or m["type"] == kind]


async def open_peer(server: LiveServer, session: aiohttp.ClientSession) -> Peer:
    ws = await session.ws_connect(
        f"ws://{server.host}:{server.port}/api/speech/tts", headers={"x-api-key": server.api_key}
    )
    return Peer(ws)


def end_of(rid: str) -> Any:
    return lambda m: m.get("client_req_id") == rid and m["type"] in ("end_of_stream", "error")


async def test_an_error_ends_only_its_request(live_server: LiveServer) -> None:
    async with aiohttp.ClientSession() as session:
        peer = await open_peer(live_server, session)
        await peer.send(
            setup("good"),
            setup("bad", voice_id="no-such-voice"),
            {"type": "text", "text": "Still here.", "client_req_id": "good"},
            {"type": "text", "text": "Late text for the failed request.", "client_req_id": "bad"},
            {"type": "end_of_stream", "client_req_id": "good"},
        )
        error = await peer.until(end_of("bad"))
        await peer.until(end_of("good"))
        # the socket still takes new requests
        await peer.send(setup("next"), {"type": "text", "text": "Next.", "client_req_id": "next"},
                        {"type": "end_of_stream", "client_req_id": "next"})  # fmt: skip
        assert (await peer.until(end_of("next")))["type"] == "end_of_stream"
        await peer.send({"type": "end_of_stream"})
        await peer.ws.receive()  # the close after the final end_of_stream
        assert peer.ws.close_code == 1000
    assert error["type"] == "error" and "no-such-voice" in error["message"] and error["code"] == 1008
    assert peer.of("good", "audio") and peer.of("next", "audio")
    assert len(peer.of("bad")) == 1  # the late text of the failed request is dropped quietly


async def test_cancel_stops_one_request(live_server: LiveServer) -> None:
    async with aiohttp.ClientSession() as session:
        peer = await open_peer(live_server, session)
        await peer.send(
            setup("old"), {"type": "text", "text": LONG, "client_req_id": "old"},
            {"type": "end_of_stream", "client_req_id": "old"},
        )  # fmt: skip
        await peer.until(lambda m: m["type"] == "audio")
        await peer.send({"type": "cancel", "client_req_id": "old"})
        cancelled_at = time.monotonic()
        ended = await peer.until(end_of("old"))
        # a barge-in: the next answer on the same socket
        await peer.send(setup("new"), {"type": "text", "text": "Sure.", "client_req_id": "new"},
                        {"type": "end_of_stream", "client_req_id": "new"})  # fmt: skip
        await peer.until(end_of("new"))
        await peer.ws.close()
    assert ended == {"type": "end_of_stream", "cancelled": True, "client_req_id": "old"}
    late = [m for t, m in peer.messages if m.get("client_req_id") == "old" and t > cancelled_at + 0.5]
    assert late == []
    old_audio = sum(len(base64.b64decode(m["audio"])) for m in peer.of("old", "audio"))
    assert old_audio / 2 / 48000 < 8  # the whole text is about 40 s
    assert peer.of("new", "audio") and peer.of("new")[-1]["type"] == "end_of_stream"


@pytest.fixture(scope="module")
def short_idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("idle")), env={"GRADIUM_IDLE_TIMEOUT_S": "1"})
    yield server
    stop_server(server)


async def test_a_socket_between_requests_has_no_idle_timeout(short_idle_server: LiveServer) -> None:
    """Idle timeout 1 s: a socket waits 3 s before its first request and 3 s between two."""
    async with aiohttp.ClientSession() as session:
        peer = await open_peer(short_idle_server, session)
        for rid in ("first", "second"):
            await asyncio.sleep(3)
            await peer.send(setup(rid), {"type": "text", "text": "Hello.", "client_req_id": rid},
                            {"type": "end_of_stream", "client_req_id": rid})  # fmt: skip
            assert (await peer.until(end_of(rid)))["type"] == "end_of_stream"
        await peer.ws.close()


async def test_a_request_waiting_for_input_times_out_alone(short_idle_server: LiveServer) -> None:
    async with aiohttp.ClientSession() as session:
        peer = await open_peer(short_idle_server, session)
        await peer.send(setup("stuck"), {"type": "text", "text": "No end.", "client_req_id": "stuck"})
        started = time.monotonic()
        error = await peer.until(end_of("stuck"))
        waited = time.monotonic() - started
        await peer.send(setup("after"), {"type": "text", "text": "Fine.", "client_req_id": "after"},
                        {"type": "end_of_stream", "client_req_id": "after"})  # fmt: skip
        assert (await peer.until(end_of("after")))["type"] == "end_of_stream"
        await peer.ws.close()
    assert error["type"] == "error" and "idle timeout" in error["message"] and 0.9 < waited < 5
