"""Drive LiveKit Agents' Gradium and Cartesia services against our server, with their defaults.

Run by tests/test_frameworks.py in the frameworks virtualenv (livekit-agents 1.8.9 and its plugins),
no room or transport: the services are used directly, as an agent session would. Prints one line
``RESULT {json}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import numpy as np
from livekit import rtc
from livekit.plugins import cartesia, gradium

ROOT = os.environ["ROOT_URL"]
KEY = os.environ["GRADIUM_API_KEY"]
WS = ROOT.replace("http", "ws", 1)


def frames(pcm: np.ndarray, rate: int, ms: int = 20) -> Iterator[rtc.AudioFrame]:
    size = rate * ms // 1000
    for start in range(0, len(pcm) - size + 1, size):
        yield rtc.AudioFrame(pcm[start : start + size].tobytes(), rate, 1, size)


async def transcribe(service: Any, pcm: np.ndarray, rate: int, turns: int, silence_s: float) -> list[Any]:
    """Speak ``pcm`` ``turns`` times with silence after each; collect events until that many finals."""
    stream = service.stream()
    events: list[Any] = []
    silence = np.zeros(int(rate * silence_s), dtype=np.int16)

    async def feed() -> None:
        for _ in range(turns):
            for frame in frames(np.concatenate([pcm, silence]), rate):
                stream.push_frame(frame)
                await asyncio.sleep(0.01)  # twice real time

    feeder = asyncio.create_task(feed())
    started = time.monotonic()
    try:
        async with asyncio.timeout(90):
            async for event in stream:
                text = event.alternatives[0].text if event.alternatives else ""
                events.append([round(time.monotonic() - started, 2), event.type.name, text])
                if sum(e[1] == "FINAL_TRANSCRIPT" for e in events) >= turns:
                    break
    except TimeoutError:
        events.append([90, "TIMEOUT", ""])
    feeder.cancel()
    await stream.aclose()
    return events


async def synthesize_seconds(service: Any, text: str) -> float:
    audio = [event.frame async for event in service.synthesize(text)]
    return sum(f.samples_per_channel for f in audio) / service.sample_rate


async def main(pcm24_path: str, pcm16_path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pcm24 = np.fromfile(pcm24_path, dtype="<i2")
    pcm16 = np.fromfile(pcm16_path, dtype="<i2")
    async with aiohttp.ClientSession() as session:
        tts = gradium.TTS(api_key=KEY, model_endpoint=f"{WS}/api/speech/tts", http_session=session)
        out["gradium_tts_s"] = await synthesize_seconds(tts, "Hello from LiveKit, with the default voice.")
        stream = tts.stream()
        stream.push_text("Streaming text, word by word. ")
        stream.flush()
        stream.end_input()
        pieces = [event.frame async for event in stream]
        out["gradium_tts_stream_s"] = sum(f.samples_per_channel for f in pieces) / tts.sample_rate
        stt = gradium.STT(api_key=KEY, model_endpoint=f"{WS}/api/speech/asr", http_session=session)
        out["gradium_stt"] = await transcribe(stt, pcm24, 24000, turns=2, silence_s=5.0)
        ctts = cartesia.TTS(api_key=KEY, base_url=ROOT, http_session=session)
        out["cartesia_tts_s"] = await synthesize_seconds(ctts, "Hello from the Cartesia plugin.")
        cstt = cartesia.STT(api_key=KEY, base_url=ROOT, model="ink-whisper", http_session=session)
        out["cartesia_stt"] = await transcribe(cstt, pcm16, 16000, turns=2, silence_s=1.5)
        # the plugin's default English model (ink-2) speaks the turn API, /stt/turns/websocket
        turns = cartesia.STT(api_key=KEY, base_url=ROOT, http_session=session)
        out["cartesia_turns"] = await transcribe(turns, pcm16, 16000, turns=2, silence_s=3.0)
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
