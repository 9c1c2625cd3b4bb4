"""What one machine serves: concurrent TTS and real-time STT streams against a real server.

Usage: python benchmarks/capacity.py [--base-url URL --api-key KEY] [--out benchmarks/results/capacity.md]
Without --base-url it starts ``gradium serve`` on a free port with a temporary data directory.
Reports p50/p95 time to first audio, aggregate real-time factor, and how far real-time STT streams
fall behind, for increasing concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import soxr

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TTS_TEXT = (
    "The quick brown fox jumps over the lazy dog. Please call me back tomorrow morning at nine. "
    "I would like to book a table for two people at seven tonight."
)
STT_CLIP = "en_librivox_ss_0870.wav"


@dataclass
class TtsRun:
    first_audio_s: float
    total_s: float
    audio_s: float


async def tts_once(ws_url: str, key: str, voice_id: str) -> TtsRun:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, headers={"x-api-key": key}) as ws,
    ):
        await ws.send_json({"type": "setup", "output_format": "pcm", "voice_id": voice_id})
        start = time.perf_counter()
        await ws.send_json({"type": "text", "text": TTS_TEXT})
        await ws.send_json({"type": "end_of_stream"})
        first, audio_bytes = 0.0, 0
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data["type"] == "audio":
                audio_bytes += len(base64.b64decode(data["audio"]))
                first = first or time.perf_counter() - start
            elif data["type"] == "error":
                raise RuntimeError(data["message"])
        return TtsRun(first, time.perf_counter() - start, audio_bytes / 2 / 48000)


def clip_pcm24k() -> bytes:
    with wave.open(str(CORPUS / STT_CLIP)) as w:
        rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    resampled = soxr.resample(samples.astype(np.float32) / 32768, rate, 24000)
    return bytes(np.clip(resampled * 32768, -32768, 32767).astype(np.int16).tobytes())


async def stt_realtime(ws_url: str, key: str, pcm: bytes) -> float:
    """Stream at real-time pace in 80 ms chunks; return seconds from the last chunk to the final close."""
    chunk = 3840
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, headers={"x-api-key": key}) as ws,
    ):
        await ws.send_json({"type": "setup", "input_format": "pcm"})

        async def reader() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "error":
                    raise RuntimeError(msg.data)

        reading = asyncio.create_task(reader())
        start = time.perf_counter()
        for i, offset in enumerate(range(0, len(pcm), chunk)):
            await asyncio.sleep(max(0.0, start + i * 0.08 - time.perf_counter()))
            await ws.send_json(
                {"type": "audio", "audio": base64.b64encode(pcm[offset : offset + chunk]).decode()}
            )
        sent = time.perf_counter()
        await ws.send_json({"type": "end_of_stream"})
        await reading
        return time.perf_counter() - sent


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


async def measure(base: str, key: str, out: Path) -> str:
    ws = base.replace("http", "ws", 1)
    lines = [
        f"# Capacity on {platform.machine()} with {os.cpu_count()} cores ({platform.platform()})",
        "",
        "## TTS (espeak-ng voice Kent unless flite is installed; 186 characters, pcm 48 kHz)",
        "",
        "| voice | streams | TTFA p50 ms | TTFA p95 ms | request p95 s | audio s / wall s |",
        "|---|---|---|---|---|---|",
    ]
    for voice, name in (
        ("LFZvm12tW_z0xfGo", "Kent (en, flite if installed)"),
        ("b35yykvVppLXyw_l", "Elise (fr, espeak-ng)"),
    ):
        for streams in (1, 8, 32, 64):
            await tts_once(ws + "speech/tts", key, voice)  # warm
            start = time.perf_counter()
            runs = await asyncio.gather(*(tts_once(ws + "speech/tts", key, voice) for _ in range(streams)))
            wall = time.perf_counter() - start
            firsts = [r.first_audio_s * 1000 for r in runs]
            lines.append(
                f"| {name} | {streams} | {pct(firsts, 50):.1f} | {pct(firsts, 95):.1f} | "
                f"{pct([r.total_s for r in runs], 95):.2f} | {sum(r.audio_s for r in runs) / wall:.0f} |"
            )
    pcm = clip_pcm24k()
    lines += [
        "",
        f"## STT in real time (80 ms chunks of {STT_CLIP}, {len(pcm) / 48000:.1f} s)",
        "",
        "| streams | final latency p50 s | final latency max s |",
        "|---|---|---|",
    ]
    for streams in (1, 4, 8, 12, 16):
        lags = await asyncio.gather(*(stt_realtime(ws + "speech/asr", key, pcm) for _ in range(streams)))
        lines.append(f"| {streams} | {statistics.median(lags):.2f} | {max(lags):.2f} |")
    report = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    return report


def start_server(data_dir: str) -> tuple[subprocess.Popen[str], str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(os.path.join(data_dir, "server.log"), "w")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gradium",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            os.path.join(data_dir, "data"),
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    match = re.search(r"shown once[^)]*\): (\S+)", Path(data_dir, "server.log").read_text())
    assert match, "no key printed"
    return process, base, match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url")
    parser.add_argument("--api-key", default=os.environ.get("GRADIUM_API_KEY"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "capacity.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process = None
        base, key = args.base_url, args.api_key
        if base is None:
            process, base, key = start_server(tmp)
        try:
            print(asyncio.run(measure(base, key, args.out)))
        finally:
            if process is not None:
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
