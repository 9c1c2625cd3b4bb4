"""STT over the real ``speech/asr`` WebSocket, streamed at real-time pace in 80 ms chunks.

The wall-clock instant at which audio time 0 was "spoken" is ``t0``: chunk k (audio up to
(k+1) * 80 ms) is sent at t0 + (k+1) * 80 ms, as a microphone would deliver it. A word's latency is
its text message's arrival minus (t0 + the reference end of that word), so the 80 ms chunking is
part of the figure. A stream's lag is, at each ``step`` message, the audio sent minus the audio the
server has processed; a stream "falls behind" when that exceeds 1 s.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass

import aiohttp

from gradium.bench.inputs import SttClip
from gradium.bench.stats import Summary, summarize
from gradium.bench.stt_match import word_latencies
from gradium.speech.stt_pipeline import DEFAULT_DELAY_IN_FRAMES

CHUNK_S = 0.08
CHUNK_BYTES = 3840  # 80 ms of 24 kHz s16le ("pcm" input format)
BEHIND_LIMIT_S = 1.0


@dataclass
class SttResult:
    word_latencies_s: list[float]
    matched: int
    reference_words: int
    final_s: float  # end_of_stream sent -> end_of_stream received
    max_lag_s: float
    max_send_late_s: float  # how late this client itself sent a chunk (client overload shows here)


async def stt_stream(
    session: aiohttp.ClientSession,
    ws_url: str,
    key: str,
    clip: SttClip,
    *,
    realtime: bool = True,
    delay_in_frames: int = DEFAULT_DELAY_IN_FRAMES,
) -> SttResult:
    async with session.ws_connect(ws_url + "speech/asr", headers={"x-api-key": key}) as ws:
        config = {"delay_in_frames": delay_in_frames, "language": "en"}
        setup = {"type": "setup", "input_format": "pcm", "json_config": config}
        await ws.send_json(setup)
        ready = json.loads(await ws.receive_str())
        if ready.get("type") != "ready":
            raise RuntimeError(f"STT setup failed: {ready}")
        t0 = time.perf_counter()
        received: list[tuple[str, float]] = []
        max_lag = [0.0]
        final_at = [0.0]

        async def reader() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                now = time.perf_counter()
                data = json.loads(msg.data)
                if data["type"] == "text":
                    received.append((data["text"], now - t0))
                elif data["type"] == "step":
                    sent_audio = min(now - t0, clip.duration_s) if realtime else 0.0
                    max_lag[0] = max(max_lag[0], sent_audio - float(data["total_duration_s"]))
                elif data["type"] == "end_of_stream":
                    final_at[0] = now
                    break
                elif data["type"] == "error":
                    raise RuntimeError(f"STT error: {data.get('message')}")

        reading = asyncio.create_task(reader())
        send_late = 0.0
        for offset in range(0, len(clip.pcm24k), CHUNK_BYTES):
            chunk = clip.pcm24k[offset : offset + CHUNK_BYTES]
            if realtime:
                due = t0 + (offset + len(chunk)) / 48000  # 48000 bytes per second of audio
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                send_late = max(send_late, time.perf_counter() - due)
            await ws.send_json({"type": "audio", "audio": base64.b64encode(chunk).decode("ascii")})
        eos_at = time.perf_counter()
        await ws.send_json({"type": "end_of_stream"})
        await reading
    latencies = word_latencies(received, clip.reference) if realtime else []
    return SttResult(
        latencies, len(latencies), len(clip.reference), final_at[0] - eos_at, max_lag[0], send_late
    )


async def run_level(
    session: aiohttp.ClientSession,
    ws_url: str,
    key: str,
    clips: list[SttClip],
    streams: int,
    delay_in_frames: int = DEFAULT_DELAY_IN_FRAMES,
) -> list[SttResult]:
    """``streams`` real-time streams at once, stream i playing clip i mod len(clips)."""

    async def one(i: int) -> SttResult:
        await asyncio.sleep(i * CHUNK_S / max(streams, 1))  # spread chunk sends over the 80 ms
        return await stt_stream(session, ws_url, key, clips[i % len(clips)], delay_in_frames=delay_in_frames)

    return list(await asyncio.gather(*(one(i) for i in range(streams))))


def summarize_level(results: list[SttResult]) -> dict[str, Summary | float | int | bool]:
    return {
        "streams": len(results),
        "word_latency_ms": summarize([x for r in results for x in r.word_latencies_s], 1000),
        "final_latency_ms": summarize([r.final_s for r in results], 1000),
        "max_lag_s": round(max(r.max_lag_s for r in results), 3),
        "max_client_send_late_ms": round(1000 * max(r.max_send_late_s for r in results), 1),
        "matched_words": sum(r.matched for r in results),
        "reference_words": sum(r.reference_words for r in results),
        "kept_up": all(r.max_lag_s <= BEHIND_LIMIT_S for r in results),
    }
