"""Running a benchmark end to end (start or attach, measure, report), shared by the CLI and the tests."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from gradium.bench import server
from gradium.bench.report import write
from gradium.bench.runner import BenchConfig, Run
from gradium.bench.targets import Check

# A few seconds: enough to exercise every code path of a full run (tests/test_bench_smoke.py).
SMOKE_TEXTS = {
    "fr": {"short": "Bonjour.", "long": "Bonjour, merci beaucoup."},
    "en": {"short": "Hello.", "long": "Hello, thank you very much."},
}


def smoke_config(corpus: Path | None = None) -> BenchConfig:
    config = BenchConfig(
        concurrency=[1, 2],
        paced_concurrency=[2],
        paced_requests=1,
        min_requests=2,
        stt_levels=[1, 2],
        stt_clips=["en_librispeech_2830-3980-0043.wav"],
        soak_requests=20,
        soak_concurrency=2,
        texts=SMOKE_TEXTS,
        progress=False,
    )
    if corpus is not None:
        config.corpus = corpus
    return config


def run(
    config: BenchConfig,
    out_dir: Path,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    server_pid: int | None = None,
    serve_args: tuple[str, ...] = (),
) -> tuple[list[Check], list[Path]]:
    with tempfile.TemporaryDirectory(prefix="gradium-bench-") as tmp:
        if base_url is None:
            target = server.start(Path(tmp), serve_args)
        else:
            if not api_key:
                raise ValueError("an API key is needed with a server URL (--api-key or GRADIUM_API_KEY)")
            target = server.attach(base_url, api_key, server_pid)
        try:
            result = asyncio.run(Run(config, target).run())
        finally:
            target.stop()
    return write(result, out_dir)
