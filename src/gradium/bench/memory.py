"""Server memory: idle, peak while streams are active, and growth over many requests (a soak)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from gradium.bench import proc
from gradium.bench.inputs import SttClip, TtsCase
from gradium.bench.stt import stt_stream
from gradium.bench.tts import tts_request

SAMPLE_EVERY_S = 0.1


class PeakSampler:
    """Samples the server tree's memory in the background; ``peak`` is the largest PSS seen."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak: proc.Memory | None = None

    def sample(self) -> None:
        if self.pid is None:
            return
        memory = proc.memory(self.pid)
        if self.peak is None or memory.tree_pss_mb > self.peak.tree_pss_mb:
            self.peak = memory

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[PeakSampler]:
        async def loop() -> None:
            while True:
                await asyncio.to_thread(self.sample)
                await asyncio.sleep(SAMPLE_EVERY_S)

        task = asyncio.create_task(loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def per_stream_mb(peak: proc.Memory | None, idle: proc.Memory | None, streams: int) -> float | None:
    if peak is None or idle is None or streams <= 0:
        return None
    return round((peak.tree_pss_mb - idle.tree_pss_mb) / streams, 2)


async def soak(
    session: aiohttp.ClientSession,
    ws_url: str,
    key: str,
    pid: int,
    case: TtsCase,
    clip: SttClip,
    requests: int,
    *,
    concurrency: int = 8,
    stt_every: int = 100,
    on_done: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """``requests`` requests (TTS, and one STT sent at full speed every ``stt_every``) with the
    memory sampled at every tenth; growth is measured from the first tenth, after warm-up."""
    samples: list[dict[str, Any]] = [{"requests": 0, **dataclasses.asdict(proc.memory(pid))}]
    marks = {max(1, requests * k // 10) for k in range(1, 11)}
    counter = iter(range(1, requests + 1))
    done = 0

    async def worker() -> None:
        nonlocal done
        for number in counter:
            if stt_every and number % stt_every == 0:
                await stt_stream(session, ws_url, key, clip, realtime=False)
            else:
                await tts_request(session, ws_url, key, case)
            done += 1
            on_done(1)
            if done in marks:
                memory = await asyncio.to_thread(proc.memory, pid)
                samples.append({"requests": done, **dataclasses.asdict(memory)})

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    samples.sort(key=lambda s: int(s["requests"]))
    warm, last = samples[1] if len(samples) > 2 else samples[0], samples[-1]
    return {
        "requests": requests,
        "concurrency": concurrency,
        "stt_every": stt_every,
        "samples": samples,
        "growth_after_warmup_mb": round(float(last["tree_pss_mb"]) - float(warm["tree_pss_mb"]), 1),
        "main_rss_growth_after_warmup_mb": round(float(last["main_rss_mb"]) - float(warm["main_rss_mb"]), 1),
    }
