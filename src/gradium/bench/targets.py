"""The issue's targets for a 2-core machine, checked against a run (printed, never asserted in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    measured: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


def _worst(rows: list[dict[str, Any]], path: tuple[str, ...]) -> tuple[float | None, str]:
    worst, where = None, ""
    for row in rows:
        value: Any = row
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and (worst is None or value > worst):
            worst, where = float(value), f"{row['engine']}/{row['text']}/{row['mode']} x{row['streams']}"
    return worst, where


def _check(name: str, target: str, value: float | None, where: str, limit: float, unit: str) -> Check:
    if value is None:
        return Check(name, target, "not measured", None)
    return Check(name, target, f"{value:g} {unit} (worst: {where})".strip(), value <= limit)


def evaluate(result: dict[str, Any]) -> list[Check]:
    tts = result.get("tts", [])
    espeak = [r for r in tts if r["engine"] == "espeak-ng"]
    checks = [
        _check(
            "TTS TTFA p50, 1 stream, espeak-ng",
            "<= 15 ms",
            *_worst([r for r in espeak if r["streams"] == 1], ("ttfa_ms", "p50")),
            15,
            "ms",
        ),
        _check(
            "TTS TTFA p95, 32 streams back to back, espeak-ng",
            "<= 150 ms",
            *_worst([r for r in espeak if r["streams"] == 32], ("ttfa_ms", "p95")),
            150,
            "ms",
        ),
        _check(
            "TTS TTFA p95, 32 real-time listeners, espeak-ng",
            "<= 150 ms",
            *_worst(
                [r | {"mode": "real-time"} for r in result.get("tts_paced", [])
                 if r["engine"] == "espeak-ng" and r["streams"] == 32],
                ("ttfa_ms", "p95"),
            ),
            150,
            "ms",
        ),
        _check(
            "Server CPU per TTS request / raw engine's (1 stream)",
            "<= 1.5x",
            *_worst([r for r in tts if r["streams"] == 1], ("ratio", "cpu_per_request")),
            1.5,
            "x",
        ),
    ]
    stt = result.get("stt", {})
    capacity = stt.get("max_realtime_streams")
    at_ten = next((lv for lv in stt.get("levels", []) if lv["streams"] == 10), None)
    p95 = at_ten["word_latency_ms"]["p95"] if at_ten else None
    delay = (result.get("config") or {}).get("stt_delay_in_frames")
    checks.append(
        Check(
            "STT real-time streams (none > 1 s behind), word latency p95 at 10 streams"
            + (f" (delay_in_frames {delay})" if delay is not None else ""),
            ">= 10 streams, <= 500 ms",
            f"{capacity} streams, p95 {p95} ms" if capacity is not None else "not measured",
            None if capacity is None else capacity >= 10 and p95 is not None and p95 <= 500,
        )
    )
    idle = (result.get("memory") or {}).get("idle")
    checks.append(
        Check(
            "Idle RSS (main process + STT workers, summed)",
            "<= 250 MB",
            f"{idle['tree_rss_mb']} MB RSS ({idle['tree_pss_mb']} MB PSS, main {idle['main_rss_mb']} MB)"
            if idle
            else "not measured",
            None if not idle else idle["tree_rss_mb"] <= 250,
        )
    )
    soak = (result.get("memory") or {}).get("soak")
    checks.append(
        Check(
            f"No memory growth over {soak['requests'] if soak else 'N'} requests (PSS after the first tenth)",
            "<= 10 MB",
            f"{soak['growth_after_warmup_mb']:+g} MB" if soak else "not measured",
            None if not soak else soak["growth_after_warmup_mb"] <= 10,
        )
    )
    return checks
