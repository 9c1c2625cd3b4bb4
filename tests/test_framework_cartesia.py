"""The Cartesia routes as pipecat and LiveKit Agents drive them: their exact messages, on a real socket."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import aiohttp

from conftest import LiveServer
from wire import corpus_pcm

CLIP = "en_librivox_ss_0870.wav"
HEADERS = {"Cartesia-Version": "2025-04-16"}


def _ws_url(server: LiveServer, path: str) -> str:
    return f"ws://{server.host}:{server.port}{path}"


def tts_message(context_id: str, transcript: str, **extra: Any) -> dict[str, Any]:
    """pipecat's CartesiaTTSService message (sonic-3, raw pcm_s16le, word timestamps), with
    LiveKit's default Cartesia voice (an alias)."""
    return {
        "transcript": transcript,
        "continue": True,
        "context_id": context_id,
        "model_id": "sonic-3",
        "voice": {"mode": "id", "id": "f786b574-daa5-4673-aa0c-cbe3e8534c02"},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000},
        "add_timestamps": True,
        "max_buffer_delay_ms": 0,
        **extra,
    }


async def test_livekit_stt_close_and_per_message_durations(live_server: LiveServer) -> None:
    """LiveKit ends with ``close`` (not ``done``), adds each transcript's ``duration`` to place it on
    its timeline, and treats an error without a code as a server error."""
    pcm = corpus_pcm(CLIP, rate=16000).tobytes()
    total_s = len(pcm) / 2 / 16000
    query = "model=ink-whisper&sample_rate=16000&encoding=pcm_s16le&language=en"
    messages: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            _ws_url(live_server, f"/stt/websocket?{query}"),
            headers={**HEADERS, "X-API-Key": live_server.api_key},
        ) as ws,
    ):
        await ws.send_str("hello?")  # an unknown command: an error with a code, the socket stays
        for start in range(0, len(pcm), 3200):
            await ws.send_bytes(pcm[start : start + 3200])
            await asyncio.sleep(0.05)  # twice real time: partial passes run while it streams
        await ws.send_str("finalize")
        await ws.send_str("close")
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                messages.append(json.loads(msg.data))
    errors = [m for m in messages if m["type"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == 400 and "close" in errors[0]["message"]
    assert messages[-1]["type"] == "done"
    transcripts = [m for m in messages if m["type"] == "transcript"]
    assert [m for m in transcripts if m["is_final"]] and [m for m in transcripts if not m["is_final"]]
    durations = [m["duration"] for m in transcripts]
    assert all(d >= 0 for d in durations)
    assert abs(sum(durations) - total_s) < 0.5, (sum(durations), total_s)
    assert len([d for d in durations if d > 0]) >= 2  # deltas, not the running total


async def test_pipecat_sentences_without_buffering_are_spoken_at_once(live_server: LiveServer) -> None:
    """``max_buffer_delay_ms: 0`` and a complete sentence without a trailing space: audio comes
    without more text, and the next sentence is a new word ("thing. The", not "thing.The")."""
    words: list[str] = []
    audio = bytearray()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            _ws_url(live_server, f"/tts/websocket?api_key={live_server.api_key}&cartesia_version=2025-04-16")
        ) as ws,
    ):
        sent = time.monotonic()
        await ws.send_str(json.dumps(tts_message("c1", "Here is one thing.")))
        first_audio_s = None
        async with asyncio.timeout(20):
            while first_audio_s is None:
                message = json.loads((await ws.receive()).data)
                assert message["type"] != "error", message
                if message["type"] == "chunk":
                    first_audio_s = time.monotonic() - sent
                    audio += base64.b64decode(message["data"])
                elif message["type"] == "timestamps":
                    words += message["word_timestamps"]["words"]
        await ws.send_str(json.dumps(tts_message("c1", "The second one.")))
        await ws.send_str(json.dumps(tts_message("c1", "", **{"continue": False})))
        async with asyncio.timeout(30):
            while True:
                message = json.loads((await ws.receive()).data)
                assert message["type"] != "error", message
                if message["type"] == "chunk":
                    audio += base64.b64decode(message["data"])
                elif message["type"] == "timestamps":
                    words += message["word_timestamps"]["words"]
                elif message["type"] == "done":
                    break
    assert first_audio_s < 10
    assert words == ["Here", "is", "one", "thing", "The", "second", "one"], words
    assert len(audio) > 24000 * 2 * 1.0


async def test_cancel_stops_audio_already_rendering(live_server: LiveServer) -> None:
    long_text = " ".join(["This sentence is here to keep the engine busy for a while."] * 12)
    long_audio_bytes = 0
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            _ws_url(live_server, f"/tts/websocket?api_key={live_server.api_key}&cartesia_version=2025-04-16")
        ) as ws,
    ):
        await ws.send_str(json.dumps(tts_message("long", long_text, **{"continue": False})))
        async with asyncio.timeout(30):
            while (first := json.loads((await ws.receive()).data))["type"] != "chunk":
                pass
        long_audio_bytes += len(base64.b64decode(first["data"]))
        await ws.send_str(json.dumps({"context_id": "long", "cancel": True}))
        cancelled_at = time.monotonic()
        # A later context on the same socket still works, and nothing of the old one follows it.
        await ws.send_str(json.dumps(tts_message("next", "Next.", **{"continue": False})))
        late: list[dict[str, Any]] = []
        async with asyncio.timeout(30):
            while True:
                message = json.loads((await ws.receive()).data)
                if message.get("context_id") == "long":
                    if message["type"] == "chunk":
                        long_audio_bytes += len(base64.b64decode(message["data"]))
                    if time.monotonic() - cancelled_at > 0.5:
                        late.append(message)
                if message.get("context_id") == "next" and message["type"] == "done":
                    break
    assert late == [], [m["type"] for m in late]
    # What was already on its way (the first rendered piece) arrives; the rest (about 40 s) does not.
    assert long_audio_bytes / 2 / 24000 < 8


async def test_turns_websocket_start_update_eager_end_and_end(live_server: LiveServer) -> None:
    """LiveKit's ink-2 stream: binary audio, {"type":"close"}; turn events with cumulative text."""
    pcm = corpus_pcm(CLIP, rate=16000)
    silence = bytes(2 * 16000 * 3)
    query = "model=ink-2&sample_rate=16000&encoding=pcm_s16le"
    messages: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            _ws_url(live_server, f"/stt/turns/websocket?{query}"),
            headers={**HEADERS, "X-API-Key": live_server.api_key},
        ) as ws,
    ):
        for _ in range(2):  # two turns on one socket
            audio = pcm.tobytes() + silence
            for start in range(0, len(audio), 3200):
                await ws.send_bytes(audio[start : start + 3200])
                await asyncio.sleep(0.05)
        await ws.send_str('{"type":"close"}')
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                messages.append(json.loads(msg.data))
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "connected" and "error" not in kinds, kinds
    assert kinds.count("turn.start") == 2 and kinds.count("turn.end") == 2, kinds
    first = kinds[: kinds.index("turn.end") + 1]
    assert first.index("turn.start") < first.index("turn.update") < first.index("turn.eager_end")
    ends = [m["transcript"].lower() for m in messages if m["type"] == "turn.end"]
    assert all("dashwood" in t and "power" in t for t in ends), ends
    updates = [m["transcript"] for m in messages if m["type"] == "turn.update"]
    assert len(updates) >= 2 and len(updates[0]) <= len(updates[1])  # cumulative
    assert len({m["request_id"] for m in messages}) == 1


def test_turn_tracker_resumes_after_an_eager_end() -> None:
    from gradium.speech.stt_pipeline import Partial, Step, UtteranceEnd, Word
    from gradium.speech.turn_events import TurnTracker

    def step(t: float, p: float) -> Step:
        return Step(0, t, ((0.5, p), (1.0, p), (2.0, p)))

    tracker = TurnTracker(end_threshold=0.9, end_timeout_s=2.0)
    events = [
        *tracker.feed(Partial("hello")),
        *tracker.feed(Word("hello", 0.0, 0.4)),
        *tracker.feed(UtteranceEnd(0.4)),
        *tracker.feed(step(0.8, 0.3)),
        *tracker.feed(Partial("there")),
        *tracker.feed(Word("there", 1.0, 1.3)),
        *tracker.feed(UtteranceEnd(1.3)),
        *tracker.feed(step(1.6, 0.5)),
        *tracker.feed(step(2.1, 0.95)),
        *tracker.feed(step(2.2, 0.99)),
    ]
    assert [(e.kind, e.transcript) for e in events] == [
        ("start", ""), ("update", "hello"), ("eager_end", "hello"), ("resume", ""),
        ("update", "hello there"), ("eager_end", "hello there"), ("end", "hello there"),
    ]  # fmt: skip
    assert tracker.feed(Partial("again"))[0].kind == "start"
    assert [(e.kind, e.transcript) for e in tracker.finish()] == [("end", "again")]
