"""A few-second run of ``gradium bench`` so the benchmark cannot rot (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CORPUS, LiveServer
from gradium.bench.cli_run import run, smoke_config


@pytest.mark.skipif(not (CORPUS / "manifest.json").exists(), reason="no shared corpus")
def test_bench_smoke_against_a_live_server(live_server: LiveServer, tmp_path: Path) -> None:
    config = smoke_config(CORPUS)
    config.concurrency = [1, 2]
    config.stt_levels = [1]
    config.soak_requests = 4
    checks, files = run(
        config,
        tmp_path,
        base_url=live_server.base_url,
        api_key=live_server.api_key,
        server_pid=live_server.process.pid,
    )
    result = json.loads((tmp_path / "bench.json").read_text())
    assert {"machine", "tts", "stt", "memory", "targets", "load_average_start"} <= result.keys()
    engines = {row["engine"] for row in result["tts"]}
    assert "espeak-ng" in engines
    for row in result["tts"]:
        assert row["requests"] >= 1 and row["ttfa_ms"]["n"] == row["requests"]
        assert row["audio_s_per_wall_s"] > 0 and row["raw"]["requests"] >= 1
        assert row["ratio"]["ttfa_p50"] is not None
    paced = result["tts_paced"]
    assert paced and all(row["streams"] == 2 and row["ttfa_ms"]["n"] == row["requests"] >= 2 for row in paced)
    assert "real-time listener" in (tmp_path / "bench.md").read_text()
    level = result["stt"]["levels"][0]
    assert level["streams"] == 1 and level["final_latency_ms"]["n"] == 1
    assert result["stt"]["clips"][0]["reference"] in ("forced-alignment", "offline-decode")
    assert result["memory"]["idle"]["tree_rss_mb"] > 0
    assert result["memory"]["soak"]["requests"] == 4
    assert len(checks) == len(result["targets"]) >= 5
    assert "## Targets" in (tmp_path / "bench.md").read_text()
    assert tmp_path / "bench.json" in files


def test_bench_command_is_registered() -> None:
    from click.testing import CliRunner

    from gradium.cli.main import main

    outcome = CliRunner().invoke(main, ["bench", "--help"])
    assert outcome.exit_code == 0 and "--base-url" in outcome.output
