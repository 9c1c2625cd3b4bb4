"""``gradium bench``: latency, throughput and memory of a server next to the raw engines."""

from __future__ import annotations

from pathlib import Path

import click


def _ints(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


@click.command()
@click.option("--base-url", default=None, help="Server to measure (…/api/). Default: start one here.")
@click.option("--api-key", envvar="GRADIUM_API_KEY", default=None, help="Key for --base-url.")
@click.option("--server-pid", type=int, default=None, help="Process id of --base-url's server (memory, CPU).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Directory for bench.json, bench.md and the PNG plots.",
)
@click.option("--concurrency", default="1,8,32,64", show_default=True, help="TTS concurrent streams.")
@click.option(
    "--realtime",
    default="32,64",
    show_default=True,
    help="TTS real-time listeners (each plays its audio before asking again); empty skips.",
)
@click.option("--min-requests", default=20, show_default=True, help="TTS requests per level (at least).")
@click.option(
    "--stt-levels",
    default="1,2,4,6,8,10,12,14,16,20,24,32",
    show_default=True,
    help="STT concurrent real-time streams, tried in order until one falls behind.",
)
@click.option(
    "--stt-clip", "stt_clips", multiple=True, help="Corpus clip file names [default: English >= 6 s]."
)
@click.option(
    "--requests",
    "soak_requests",
    default=10_000,
    show_default=True,
    help="Requests of the memory soak (0 skips it).",
)
@click.option(
    "--corpus",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with manifest.json and the clips [default: ../shared/corpus].",
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(["all", "words"]),
    help="How TTS text is sent [default: both].",
)
@click.option(
    "--stt-delay",
    default=10,
    show_default=True,
    help="STT delay_in_frames (counted from each word's start; shapes word latency).",
)
@click.option("--stt-workers", type=int, default=None, help="STT workers of a server started here.")
@click.option("--smoke", is_flag=True, help="A few-second run with tiny inputs (checks the benchmark works).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def bench(
    base_url: str | None,
    api_key: str | None,
    server_pid: int | None,
    out: Path,
    concurrency: str,
    realtime: str,
    min_requests: int,
    stt_levels: str,
    stt_clips: tuple[str, ...],
    soak_requests: int,
    corpus: Path | None,
    modes: tuple[str, ...],
    stt_delay: int,
    stt_workers: int | None,
    smoke: bool,
    no_progress: bool,
) -> None:
    """Measure TTS, STT and memory over the WebSocket protocol, side by side with the raw engines."""
    from gradium.bench.cli_run import run, smoke_config
    from gradium.bench.runner import BenchConfig

    if smoke:
        config = smoke_config(corpus)
    else:
        config = BenchConfig(
            concurrency=_ints(concurrency),
            paced_concurrency=_ints(realtime),
            min_requests=min_requests,
            stt_levels=_ints(stt_levels),
            stt_clips=list(stt_clips) or None,
            soak_requests=soak_requests,
        )
        if corpus is not None:
            config.corpus = corpus
        if modes:
            config.modes = modes
    config.progress = not no_progress
    config.stt_delay_in_frames = stt_delay
    serve_args = ("--stt-workers", str(stt_workers)) if stt_workers else ()
    try:
        checks, files = run(
            config, out, base_url=base_url, api_key=api_key, server_pid=server_pid, serve_args=serve_args
        )
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    for check in checks:
        click.echo(f"{check.verdict:4}  {check.name}: {check.measured} (target {check.target})")
    for path in files:
        click.echo(f"wrote {path}")


def register(group: click.Group) -> None:
    group.add_command(bench)
