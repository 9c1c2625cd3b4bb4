"""One benchmark run: TTS, STT and memory against a server, and the raw engines on the same inputs."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from tqdm import tqdm

from gradium.bench import machine, proc, raw, stt, tts
from gradium.bench.inputs import TEXTS, SttClip, TtsCase, default_corpus, load_clips, tts_cases
from gradium.bench.memory import PeakSampler, per_stream_mb, soak
from gradium.bench.server import Target
from gradium.bench.stats import ratio, summarize
from gradium.speech.stt_pipeline import DEFAULT_DELAY_IN_FRAMES


@dataclass
class BenchConfig:
    concurrency: list[int] = field(default_factory=lambda: [1, 8, 32, 64])
    # Real-time listeners (see bench.tts.run_level): short text, one message, every engine.
    paced_concurrency: list[int] = field(default_factory=lambda: [32, 64])
    paced_requests: int = 4  # per paced client
    min_requests: int = 20  # per TTS level: low concurrency repeats requests to fill percentiles
    stt_levels: list[int] = field(default_factory=lambda: [1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 32])
    stt_clips: list[str] | None = None  # default: every English clip of at least stt_min_clip_s
    stt_min_clip_s: float = 6.0
    # A word is committed once the audio runs delay_in_frames * 80 ms past its start (and at least
    # 0.24 s past its end), so the delay shapes word latency (gradium.speech.stt_pipeline).
    stt_delay_in_frames: int = DEFAULT_DELAY_IN_FRAMES
    soak_requests: int = 10_000
    soak_concurrency: int = 8
    corpus: Path = field(default_factory=default_corpus)
    texts: dict[str, dict[str, str]] = field(default_factory=lambda: TEXTS)
    modes: tuple[str, ...] = ("all", "words")
    progress: bool = True


def _cpu_ms(before: float | None, after: float | None, requests: int) -> float | None:
    """Server CPU milliseconds per request between two readings (None when the pid is unknown)."""
    return None if before is None or after is None else round(1000 * (after - before) / requests, 2)


def _per_stream(streams: int, min_requests: int) -> int:
    return max(1, math.ceil(min_requests / streams))


class Run:
    def __init__(self, config: BenchConfig, target: Target) -> None:
        self.config = config
        self.target = target
        self.cases = [c for c in tts_cases(config.texts) if c.mode in config.modes]
        self.bar: tqdm[Any] | None = None
        self.raw_tts: dict[tuple[str, str, int], dict[str, Any]] = {}

    def _tick(self, label: str) -> Callable[[int], None]:
        if self.bar is not None:
            self.bar.set_description(label)
        return self.bar.update if self.bar is not None else (lambda n: None)

    def _server_cpu(self) -> float | None:
        return proc.cpu_seconds(self.target.pid) if self.target.pid is not None else None

    def _memory(self) -> proc.Memory | None:
        return proc.memory(self.target.pid) if self.target.pid is not None else None

    async def run(self) -> dict[str, Any]:
        config = self.config
        clips = load_clips(config.corpus, config.stt_clips, config.stt_min_clip_s)
        total = 2 * len(self.cases) * len(config.concurrency) + len(config.stt_levels)
        total += len(self._paced_cases()) * len(config.paced_concurrency)
        total += len(clips) + config.soak_requests
        result: dict[str, Any] = {
            "machine": machine.describe(),
            "load_average_start": machine.load_average(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "config": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in dataclasses.asdict(config).items()
                if k not in ("texts", "progress")
            },
            "server": {"base_url": self.target.base_url, "pid_known": self.target.pid is not None},
        }
        connector = aiohttp.TCPConnector(limit=0)
        with tqdm(total=total, disable=not config.progress, unit="step") as self.bar:
            async with aiohttp.ClientSession(connector=connector) as session:
                await asyncio.sleep(1.0)  # let the freshly started server settle before "idle"
                idle = self._memory()
                result["tts"] = await self._tts(session)
                result["tts_paced"] = await self._tts_paced(session)
                result["stt"] = await self._stt(session, clips)
                result["memory"] = await self._memory_section(session, idle, result, clips)
        self.bar = None
        result["load_average_end"] = machine.load_average()
        return result

    # -- TTS -------------------------------------------------------------------------------------
    async def _tts(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        rows = []
        for case in self.cases:
            await tts.tts_request(session, self.target.ws_url, self.target.api_key, case)  # warm-up
            for streams in self.config.concurrency:
                tick = self._tick(f"TTS {case.key} x{streams}")
                per_stream = _per_stream(streams, self.config.min_requests)
                cpu = self._server_cpu()
                async with PeakSampler(self.target.pid).running() as sampler:
                    results, wall = await tts.run_level(
                        session, self.target.ws_url, self.target.api_key, case, streams, per_stream
                    )
                after = self._server_cpu()
                row: dict[str, Any] = {
                    "engine": case.engine,
                    "voice": f"{case.voice_name} ({case.voice_id}, {case.language})",
                    "text": case.text_name,
                    "chars": len(case.text),
                    "mode": case.mode,
                    "streams": streams,
                    **tts.summarize_level(results, wall),
                    "server_cpu_ms_per_request": _cpu_ms(cpu, after, len(results)),
                    "peak_memory": dataclasses.asdict(sampler.peak) if sampler.peak else None,
                }
                tick(1)
                row["raw"] = await self._raw_tts(case, streams, per_stream)
                tick(1)
                _add_ratios(row)
                rows.append(row)
        return rows

    def _paced_cases(self) -> list[TtsCase]:
        return [c for c in self.cases if c.text_name == "short" and c.mode == "all"]

    async def _tts_paced(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        rows = []
        for case in self._paced_cases():
            for streams in self.config.paced_concurrency:
                tick = self._tick(f"TTS {case.key} x{streams} real-time")
                cpu = self._server_cpu()
                results, wall = await tts.run_level(
                    session, self.target.ws_url, self.target.api_key, case, streams,
                    self.config.paced_requests, paced=True,
                )  # fmt: skip
                after = self._server_cpu()
                rows.append({
                    "engine": case.engine,
                    "text": case.text_name,
                    "chars": len(case.text),
                    "streams": streams,
                    **tts.summarize_level(results, wall),
                    "server_cpu_ms_per_request": _cpu_ms(cpu, after, len(results)),
                })  # fmt: skip
                tick(1)
        return rows

    async def _raw_tts(self, case: TtsCase, streams: int, per_stream: int) -> dict[str, Any]:
        # The raw engine has no streaming text input, so "all" and "words" share one raw run.
        key = (case.engine, case.text_name, streams)
        if key not in self.raw_tts:
            raw.tts_request(case)  # warm-up: load the library and the voice
            results, wall, cpu = await asyncio.to_thread(raw.tts_level, case, streams, per_stream)
            self.raw_tts[key] = {
                "requests": len(results),
                "ttfa_ms": summarize([r.ttfa_s for r in results], 1000),
                "rtf": summarize([r.rtf for r in results], 1, 4),
                "audio_s_per_wall_s": round(sum(r.audio_s for r in results) / wall, 1),
                "cpu_ms_per_request": round(1000 * cpu / len(results), 2),
            }
        return self.raw_tts[key]

    # -- STT -------------------------------------------------------------------------------------
    async def _stt(self, session: aiohttp.ClientSession, clips: list[SttClip]) -> dict[str, Any]:
        raw_results = []
        for clip in clips:
            tick = self._tick(f"STT raw {clip.name}")
            raw_results.append(await asyncio.to_thread(raw.stt_stream, clip, self.config.stt_delay_in_frames))
            tick(1)
        cpu_per_audio_s = sum(
            r.cpu_per_audio_s * c.duration_s for r, c in zip(raw_results, clips, strict=True)
        )
        cpu_per_audio_s /= sum(c.duration_s for c in clips)
        raw_summary: dict[str, Any] = {
            "word_latency_ms": summarize([x for r in raw_results for x in r.word_latencies_s], 1000),
            "final_latency_ms": summarize([r.final_s for r in raw_results], 1000),
            "cpu_s_per_audio_s": round(cpu_per_audio_s, 4),
            # Upper bound: every core decoding and nothing else running.
            "realtime_streams_estimate": math.floor((os.cpu_count() or 1) / cpu_per_audio_s),
        }
        levels, capacity = [], 0
        await stt.stt_stream(session, self.target.ws_url, self.target.api_key, clips[0], realtime=False)
        for streams in self.config.stt_levels:
            tick = self._tick(f"STT x{streams}")
            async with PeakSampler(self.target.pid).running() as sampler:
                results = await stt.run_level(
                    session,
                    self.target.ws_url,
                    self.target.api_key,
                    clips,
                    streams,
                    self.config.stt_delay_in_frames,
                )
            level: dict[str, Any] = {
                **stt.summarize_level(results),
                "peak_memory": dataclasses.asdict(sampler.peak) if sampler.peak else None,
            }
            for name in ("word_latency_ms", "final_latency_ms"):
                level[f"{name}_p50_ratio"] = ratio(level[name]["p50"], raw_summary[name]["p50"])
                level[f"{name}_p95_ratio"] = ratio(level[name]["p95"], raw_summary[name]["p95"])
            levels.append(level)
            tick(1)
            if not level["kept_up"]:
                break  # one level past capacity is enough: beyond it every stream only lags more
            capacity = streams
        if self.bar is not None:
            self.bar.update(len(self.config.stt_levels) - len(levels))
        return {
            "clips": [
                {"name": c.name, "duration_s": round(c.duration_s, 2), "reference": c.reference_source}
                for c in clips
            ],
            "raw": raw_summary,
            "levels": levels,
            "max_realtime_streams": capacity,
            "capacity_ratio_to_raw_estimate": ratio(capacity, raw_summary["realtime_streams_estimate"]),
        }

    # -- memory ----------------------------------------------------------------------------------
    async def _memory_section(
        self,
        session: aiohttp.ClientSession,
        idle: proc.Memory | None,
        result: dict[str, Any],
        clips: list[SttClip],
    ) -> dict[str, Any]:
        section: dict[str, Any] = {"idle": dataclasses.asdict(idle) if idle else None}
        top_tts = max(result["tts"], key=lambda r: (r["streams"], r["chars"]), default=None)
        if top_tts and top_tts["peak_memory"] and idle:
            peak = proc.Memory(**top_tts["peak_memory"])
            section["tts_per_stream_mb"] = per_stream_mb(peak, idle, top_tts["streams"])
            section["tts_per_stream_at"] = f"{top_tts['engine']}/{top_tts['text']} x{top_tts['streams']}"
        kept = [lv for lv in result["stt"]["levels"] if lv["kept_up"]]
        if kept and kept[-1]["peak_memory"] and idle:
            peak = proc.Memory(**kept[-1]["peak_memory"])
            section["stt_per_stream_mb"] = per_stream_mb(peak, idle, kept[-1]["streams"])
            section["stt_per_stream_at"] = f"x{kept[-1]['streams']}"
        if self.target.pid is not None and self.config.soak_requests > 0:
            case = next(c for c in self.cases if c.text_name == "short" and c.mode == "all")
            shortest = min(clips, key=lambda c: c.duration_s)
            self._tick(f"soak {self.config.soak_requests} requests")
            started = time.perf_counter()
            section["soak"] = await soak(
                session,
                self.target.ws_url,
                self.target.api_key,
                self.target.pid,
                case,
                shortest,
                self.config.soak_requests,
                concurrency=self.config.soak_concurrency,
                on_done=self.bar.update if self.bar is not None else (lambda n: None),
            )
            section["soak"]["wall_s"] = round(time.perf_counter() - started, 1)
            section["after_soak"] = dataclasses.asdict(proc.memory(self.target.pid))
        return section


def _add_ratios(row: dict[str, Any]) -> None:
    raw_row = row["raw"]
    row["ratio"] = {
        "ttfa_p50": ratio(row["ttfa_ms"]["p50"], raw_row["ttfa_ms"]["p50"]),
        "ttfa_p95": ratio(row["ttfa_ms"]["p95"], raw_row["ttfa_ms"]["p95"]),
        "rtf_p50": ratio(row["rtf"]["p50"], raw_row["rtf"]["p50"]),
        "throughput": ratio(row["audio_s_per_wall_s"], raw_row["audio_s_per_wall_s"]),
        "cpu_per_request": ratio(row["server_cpu_ms_per_request"], raw_row["cpu_ms_per_request"]),
    }
