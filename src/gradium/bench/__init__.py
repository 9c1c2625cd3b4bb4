"""``gradium bench``: latency, throughput and memory of a server over the real WebSocket protocol,
side by side with the raw engines driven directly on the same inputs (see docs/benchmarks.md)."""
