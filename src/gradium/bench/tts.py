"""TTS over the real ``speech/tts`` WebSocket: set-up, time to first audio, cadence, real-time factor.

Time to first audio (TTFA) runs from sending the first text message to receiving the first audio
message that holds a non-silent sample; connecting and the setup -> ready exchange are measured
apart. Every request opens its own socket, as the official client does.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from gradium.bench.inputs import TtsCase
from gradium.bench.stats import Summary, summarize

OUTPUT_FORMAT = "pcm"  # the protocol's raw format: 48 kHz mono s16le
OUTPUT_RATE = 48_000
SILENCE_LEVEL = 64  # |sample| above this (-54 dBFS) counts as sound
PACED_ARRIVAL_S = 1.0  # paced clients start at random times within this window


@dataclass
class TtsResult:
    connect_s: float
    setup_s: float
    ttfa_s: float
    total_s: float  # first text message -> end_of_stream
    audio_s: float
    gaps_s: list[float] = field(default_factory=list)  # between consecutive audio messages
    underrun_s: float = 0.0  # how late the worst chunk came for a player started on the first one

    @property
    def rtf(self) -> float:
        return self.total_s / self.audio_s if self.audio_s else float("nan")


def messages_for(case: TtsCase) -> list[str]:
    if case.mode == "all":
        return [case.text]
    # Word by word as an LLM would stream it: each message is one word and its trailing space.
    return [word + " " for word in case.text.split()]


async def _send_text(ws: aiohttp.ClientWebSocketResponse, messages: list[str]) -> None:
    for text in messages:
        await ws.send_json({"type": "text", "text": text})
        await asyncio.sleep(0)  # a send that does not block never yields: let the receiver run
    await ws.send_json({"type": "end_of_stream"})


@dataclass
class _Received:
    first_sound: float = 0.0  # perf_counter of the first audio message holding sound
    first_chunk: float = 0.0
    samples: int = 0
    worst_late: float = 0.0  # for a player that starts on the first chunk
    arrivals: list[float] = field(default_factory=list)


async def _receive_audio(ws: aiohttp.ClientWebSocketResponse) -> _Received:
    got = _Received()
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        now = time.perf_counter()
        data = json.loads(msg.data)
        if data["type"] == "audio":
            pcm = np.frombuffer(base64.b64decode(data["audio"]), dtype="<i2")
            if not got.arrivals:
                got.first_chunk = now
            # A player that starts on the first chunk needs chunk k by first + audio before k.
            got.worst_late = max(got.worst_late, now - (got.first_chunk + got.samples / OUTPUT_RATE))
            got.arrivals.append(now)
            got.samples += pcm.size
            if not got.first_sound and pcm.size and int(np.abs(pcm).max()) > SILENCE_LEVEL:
                got.first_sound = now
        elif data["type"] == "end_of_stream":
            break
        elif data["type"] == "error":
            raise RuntimeError(f"TTS error: {data.get('message')}")
    return got


async def tts_request(session: aiohttp.ClientSession, ws_url: str, key: str, case: TtsCase) -> TtsResult:
    opened = time.perf_counter()
    async with session.ws_connect(ws_url + "speech/tts", headers={"x-api-key": key}) as ws:
        connected = time.perf_counter()
        # The formant engines, which the raw side drives too (benchmarks/tts_neural.py measures the
        # neural voices).
        setup = {"type": "setup", "voice_id": case.voice_id, "output_format": OUTPUT_FORMAT}
        await ws.send_json({**setup, "model_name": "formant"})
        ready = json.loads(await ws.receive_str())
        if ready.get("type") != "ready":
            raise RuntimeError(f"TTS setup failed: {ready}")
        start = time.perf_counter()
        # Sending runs beside receiving, so an audio message is timed when it arrives, not after
        # the client has finished sending seventy words.
        sender = asyncio.create_task(_send_text(ws, messages_for(case)))
        try:
            got = await _receive_audio(ws)
            end = time.perf_counter()
            await sender
        finally:
            sender.cancel()
    return TtsResult(
        connect_s=connected - opened,
        setup_s=start - connected,
        ttfa_s=(got.first_sound or end) - start,
        total_s=end - start,
        audio_s=got.samples / OUTPUT_RATE,
        gaps_s=[b - a for a, b in itertools.pairwise(got.arrivals)],
        underrun_s=got.worst_late,
    )


async def run_level(
    session: aiohttp.ClientSession,
    ws_url: str,
    key: str,
    case: TtsCase,
    streams: int,
    per_stream: int,
    *,
    paced: bool = False,
) -> tuple[list[TtsResult], float]:
    """``streams`` concurrent clients, each making ``per_stream`` requests.

    Back to back by default: a stress test, each client asks again the moment its audio has
    arrived, which is far more audio per client than anyone can listen to. ``paced`` clients are
    real-time listeners instead: they arrive at random times within the first second, play each
    answer from its first audio, and ask again only when it has played out.
    """
    rng = random.Random(streams)

    async def client() -> list[TtsResult]:
        results = []
        if paced:
            await asyncio.sleep(rng.uniform(0.0, PACED_ARRIVAL_S))
        for _ in range(per_stream):
            opened = time.perf_counter()
            result = await tts_request(session, ws_url, key, case)
            results.append(result)
            if paced:
                first_audio = opened + result.connect_s + result.setup_s + result.ttfa_s
                await asyncio.sleep(max(0.0, first_audio + result.audio_s - time.perf_counter()))
        return results

    started = time.perf_counter()
    batches = await asyncio.gather(*(client() for _ in range(streams)))
    return [r for batch in batches for r in batch], time.perf_counter() - started


def summarize_level(results: list[TtsResult], wall_s: float) -> dict[str, Summary | float | int]:
    return {
        "requests": len(results),
        "connect_ms": summarize([r.connect_s for r in results], 1000),
        "setup_ms": summarize([r.setup_s for r in results], 1000),
        "ttfa_ms": summarize([r.ttfa_s for r in results], 1000),
        "chunk_gap_ms": summarize([g for r in results for g in r.gaps_s], 1000),
        "underrun_ms": summarize([r.underrun_s for r in results], 1000),
        "rtf": summarize([r.rtf for r in results], 1, 4),
        "audio_s_per_wall_s": round(sum(r.audio_s for r in results) / wall_s, 1),
        "wall_s": round(wall_s, 2),
    }
