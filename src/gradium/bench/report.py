"""Writing a run: ``bench.json``, ``bench.md`` and PNG plots (when matplotlib, the ``bench`` extra, is
installed) into one directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradium.bench.targets import Check, evaluate


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _tts_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| engine | text | mode | streams | connect p50 ms | setup p50 ms | TTFA p50 ms | TTFA p95 ms "
        "| raw TTFA p50 / p95 ms | TTFA p95 ratio | chunk gap p95 ms | worst underrun p95 ms | RTF p50 "
        "| audio s / wall s (raw) | server CPU ms/req (raw) | CPU ratio |",
        "|" + "---|" * 16,
    ]
    for r in rows:
        raw, ratios = r["raw"], r["ratio"]
        lines.append(
            f"| {r['engine']} | {r['text']} ({r['chars']} ch) | {r['mode']} | {r['streams']} "
            f"| {_fmt(r['connect_ms']['p50'])} | {_fmt(r['setup_ms']['p50'])} "
            f"| {_fmt(r['ttfa_ms']['p50'])} | {_fmt(r['ttfa_ms']['p95'])} "
            f"| {_fmt(raw['ttfa_ms']['p50'])} / {_fmt(raw['ttfa_ms']['p95'])} | {_fmt(ratios['ttfa_p95'])} "
            f"| {_fmt(r['chunk_gap_ms']['p95'])} | {_fmt(r['underrun_ms']['p95'])} | {_fmt(r['rtf']['p50'])} "
            f"| {_fmt(r['audio_s_per_wall_s'])} ({_fmt(raw['audio_s_per_wall_s'])}) "
            f"| {_fmt(r['server_cpu_ms_per_request'])} ({_fmt(raw['cpu_ms_per_request'])}) "
            f"| {_fmt(ratios['cpu_per_request'])} |"
        )
    return lines


def _paced_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| engine | text | real-time streams | requests | TTFA p50 ms | TTFA p95 ms | chunk gap p95 ms "
        "| worst underrun p95 ms | server CPU ms/req |",
        "|" + "---|" * 9,
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {r['text']} ({r['chars']} ch) | {r['streams']} | {r['requests']} "
            f"| {_fmt(r['ttfa_ms']['p50'])} | {_fmt(r['ttfa_ms']['p95'])} | {_fmt(r['chunk_gap_ms']['p95'])} "
            f"| {_fmt(r['underrun_ms']['p95'])} | {_fmt(r['server_cpu_ms_per_request'])} |"
        )
    return lines


def _stt_table(stt: dict[str, Any]) -> list[str]:
    raw = stt["raw"]
    lines = [
        f"Raw `SttPipeline`: word latency p50 {_fmt(raw['word_latency_ms']['p50'])} ms, "
        f"p95 {_fmt(raw['word_latency_ms']['p95'])} ms; final {_fmt(raw['final_latency_ms']['p50'])} ms; "
        f"{_fmt(raw['cpu_s_per_audio_s'])} CPU s per audio s, so at most "
        f"{raw['realtime_streams_estimate']} real-time streams on all cores.",
        "",
        "| streams | word latency p50 ms | p95 ms | p95 ratio to raw | final p50 ms | final p95 ms "
        "| max lag s | client send late ms | words matched | kept up |",
        "|" + "---|" * 10,
    ]
    for lv in stt["levels"]:
        lines.append(
            f"| {lv['streams']} | {_fmt(lv['word_latency_ms']['p50'])} "
            f"| {_fmt(lv['word_latency_ms']['p95'])} "
            f"| {_fmt(lv['word_latency_ms_p95_ratio'])} | {_fmt(lv['final_latency_ms']['p50'])} "
            f"| {_fmt(lv['final_latency_ms']['p95'])} | {lv['max_lag_s']} | {lv['max_client_send_late_ms']} "
            f"| {lv['matched_words']}/{lv['reference_words']} | {'yes' if lv['kept_up'] else 'NO'} |"
        )
    lines += ["", f"**Largest number of real-time streams sustained: {stt['max_realtime_streams']}**."]
    return lines


def _memory_lines(memory: dict[str, Any]) -> list[str]:
    idle = memory.get("idle")
    if not idle:
        return ["Not measured (the server's process id is unknown: pass --server-pid)."]
    lines = [
        f"- idle: main process {idle['main_rss_mb']} MB RSS; all {idle['processes']} processes (STT workers, "
        f"multiprocessing helper) "
        f"{idle['tree_rss_mb']} MB RSS summed, {idle['tree_pss_mb']} MB PSS",
        f"- per active TTS stream: {_fmt(memory.get('tts_per_stream_mb'))} MB PSS "
        f"(peak at {memory.get('tts_per_stream_at')})",
        f"- per active STT stream: {_fmt(memory.get('stt_per_stream_mb'))} MB PSS "
        f"(peak at {memory.get('stt_per_stream_at')})",
    ]
    soak = memory.get("soak")
    if soak:
        marks = ", ".join(f"{s['requests']}: {s['tree_pss_mb']}" for s in soak["samples"])
        lines += [
            f"- after {soak['requests']} requests ({soak['concurrency']} at a time, one STT every "
            f"{soak['stt_every']}, {soak['wall_s']} s): PSS growth after the first tenth "
            f"{soak['growth_after_warmup_mb']:+g} MB "
            f"(main RSS {soak['main_rss_growth_after_warmup_mb']:+g} MB)",
            f"- PSS (MB) by requests served: {marks}",
        ]
    return lines


def markdown(result: dict[str, Any], checks: list[Check]) -> str:
    m = result["machine"]
    lines = [
        "# gradium bench",
        "",
        f"{result['started']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['platform']}, "
        f"Python {m['python']}, flite {'installed' if m['flite'] else 'absent'}, commit {m['git_commit']}. "
        f"Load average (1, 5, 15 min) {result['load_average_start']} at start, "
        f"{result['load_average_end']} at end. Client and server share the machine.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
        *[f"| {c.name} | {c.target} | {c.measured} | **{c.verdict}** |" for c in checks],
        "",
        "## TTS (speech/tts, output pcm 48 kHz; ratios are server / raw engine)",
        "",
        *_tts_table(result["tts"]),
        "",
        "Every client above asks again the moment its audio has arrived: a stress test, with more audio",
        "per client than anyone listens to. Below, each client is a real-time listener: clients arrive",
        "at random times within a second, play each answer from its first audio, and ask again only",
        "when it has played out.",
        "",
        *_paced_table(result.get("tts_paced", [])),
        "",
        f"## STT (speech/asr, 24 kHz pcm at real-time pace in 80 ms chunks, delay_in_frames "
        f"{result['config']['stt_delay_in_frames']})",
        "",
        "Clips: "
        + ", ".join(f"{c['name']} ({c['duration_s']} s, {c['reference']})" for c in result["stt"]["clips"]),
        "",
        *_stt_table(result["stt"]),
        "",
        "## Memory",
        "",
        *_memory_lines(result["memory"]),
        "",
    ]
    return "\n".join(lines)


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Latency against concurrency; nothing (and no error) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for axis, text in zip(axes, ("short", "long"), strict=True):
        for key in sorted({(r["engine"], r["mode"]) for r in result["tts"]}):
            rows = sorted(
                (r for r in result["tts"] if (r["engine"], r["mode"]) == key and r["text"] == text),
                key=lambda r: r["streams"],
            )
            if not rows:
                continue
            streams = [r["streams"] for r in rows]
            line = axis.plot(
                streams, [r["ttfa_ms"]["p95"] for r in rows], marker="o", label=f"{key[0]} {key[1]} p95"
            )
            axis.plot(
                streams,
                [r["ttfa_ms"]["p50"] for r in rows],
                marker=".",
                linestyle=":",
                color=line[0].get_color(),
                label=f"{key[0]} {key[1]} p50",
            )
            if key[1] == "all":
                axis.plot(
                    streams,
                    [r["raw"]["ttfa_ms"]["p95"] for r in rows],
                    linestyle="--",
                    color=line[0].get_color(),
                    alpha=0.5,
                    label=f"{key[0]} raw p95",
                )
        for engine in sorted({r["engine"] for r in result.get("tts_paced", []) if r["text"] == text}):
            paced = sorted(
                (r for r in result["tts_paced"] if r["engine"] == engine and r["text"] == text),
                key=lambda r: r["streams"],
            )
            axis.plot(
                [r["streams"] for r in paced],
                [r["ttfa_ms"]["p95"] for r in paced],
                marker="s",
                linestyle="-.",
                label=f"{engine} real-time listeners p95",
            )
        axis.set(
            xscale="log",
            yscale="log",
            xlabel="concurrent streams",
            title=f"TTS time to first audio, {text} text",
        )
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms")
    labelled: dict[str, Any] = {}  # every series of both panels, once, in one legend
    for axis in axes:
        handles, labels = axis.get_legend_handles_labels()
        labelled.update(zip(labels, handles, strict=True))
    axes[1].legend(list(labelled.values()), list(labelled), fontsize=7)
    fig.tight_layout()
    written.append(out_dir / "tts_ttfa.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    levels = result["stt"]["levels"]
    if levels:
        fig, axis = plt.subplots(figsize=(7, 4.5))
        streams = [lv["streams"] for lv in levels]
        for name, label in (("word_latency_ms", "word latency"), ("final_latency_ms", "final latency")):
            axis.plot(streams, [lv[name]["p95"] for lv in levels], marker="o", label=f"{label} p95")
            axis.plot(
                streams, [lv[name]["p50"] for lv in levels], marker=".", linestyle=":", label=f"{label} p50"
            )
        raw = result["stt"]["raw"]["word_latency_ms"]["p95"]
        if raw is not None:
            axis.axhline(raw, linestyle="--", color="grey", label="raw pipeline word latency p95")
        axis.set(xlabel="concurrent real-time streams", ylabel="ms", title="STT latency against concurrency")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
        fig.tight_layout()
        written.append(out_dir / "stt_latency.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def write(result: dict[str, Any], out_dir: Path) -> tuple[list[Check], list[Path]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    checks = evaluate(result)
    result["targets"] = [
        {"name": c.name, "target": c.target, "measured": c.measured, "verdict": c.verdict} for c in checks
    ]
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "bench.md").write_text(markdown(result, checks))
    return checks, [out_dir / "bench.json", out_dir / "bench.md", *plots(result, out_dir)]
