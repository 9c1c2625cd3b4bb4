"""The process's Prometheus metrics, served at ``GET /metrics`` (gradium.server.operations).

One server process is one replica, so the metrics live in prometheus-client's default registry and
every layer records into them directly: the streams middleware (active streams, refusals), the TTS
stream (time to first audio), the STT pool (word latency, worker restarts), the credit meter
(credits charged) and the error paths (errors by kind). Names follow Prometheus conventions
(``_seconds``, ``_total``); the README's replicas section lists them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Time to first audio is about a second at the edge of comfort; word latency (STT) a little more.
_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

ACTIVE_STREAMS = Gauge(
    "gradium_active_streams", "Streams (WebSockets and streaming HTTP requests) being served now.", ["route"]
)
STREAMS = Counter("gradium_streams_total", "Streams admitted, by route.", ["route"])
REFUSED = Counter(
    "gradium_refused_total", "New streams refused (at capacity, or draining), by reason.", ["reason"]
)
TIME_TO_FIRST_AUDIO = Histogram(
    "gradium_tts_time_to_first_audio_seconds",
    "TTS: from a request's first text to its first rendered audio, by engine.",
    ["engine"],
    buckets=_LATENCY_BUCKETS,
)
WORD_LATENCY = Histogram(
    "gradium_stt_word_latency_seconds",
    "STT: from the moment the audio of a word's end reached the recogniser to the word's delivery.",
    buckets=_LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge("gradium_engine_queue_depth", "Synthesis jobs waiting for an engine thread.", ["engine"])
STT_STREAMS = Gauge("gradium_stt_pool_streams", "Streams open on the STT worker processes.")
CREDITS_CHARGED = Counter("gradium_credits_charged_total", "Credits deducted, by service.", ["service"])
CREDITS_REFUNDED = Counter(
    "gradium_credits_refunded_total", "Credits given back (audio paid for but never sent), by service.",
    ["service"],
)
ERRORS = Counter("gradium_errors_total", "Errors sent to clients, by kind.", ["kind"])
WORKER_RESTARTS = Counter("gradium_worker_restarts_total", "STT worker processes replaced after exiting.")


def error_kind(code: int | str | None) -> str:
    """A low-cardinality label for an error: the HTTP status class or the WebSocket close code."""
    if isinstance(code, int) and 400 <= code < 600:
        return f"http_{code}"
    if isinstance(code, int):
        return f"ws_{code}"
    return str(code or "unknown")
