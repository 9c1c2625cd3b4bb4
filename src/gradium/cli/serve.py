"""``gradium serve``: start the speech server (creating the first organisation and key if needed)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gradium.cli.common import default_data_dir

if TYPE_CHECKING:
    from gradium.server.settings import Settings


def _bootstrap(data_dir: Path, initial_credits: int, database_url: str | None) -> None:
    from gradium.accounts.store import AccountStore

    store = AccountStore(data_dir, database_url)
    try:
        store.migrate()
        key = store.bootstrap(initial_credits)
    finally:
        store.close()
    if key is not None:
        click.echo(f"Created organisation 'default' with {initial_credits} credits.")
        click.echo(f"Admin API key (shown once, store it now): {key}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Database and voices directory [default: $GRADIUM_DATA_DIR or ./data].",
)
@click.option(
    "--initial-credits",
    default=1_000_000,
    show_default=True,
    type=int,
    help="Credits of the organisation created on first start.",
)
@click.option(
    "--stt-workers", default=None, type=int,
    help="STT worker processes [default: Whisper one per 4 cores, pocketsphinx one per core].",
)
@click.option(
    "--stt-threads", default=None, type=click.IntRange(min=1),
    help="STT passes each worker runs at once [default: Whisper the cores per worker, pocketsphinx 1].",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
@click.option(
    "--log-format", default="text", show_default=True, envvar="GRADIUM_LOG_FORMAT",
    type=click.Choice(["text", "json"]), help="json: one JSON object a line, with request ids.",
)
@click.option(
    "--database-url", default=None, envvar="GRADIUM_DATABASE_URL", metavar="URL",
    help="postgresql://user:password@host/db shared by several replicas [default: DATA_DIR/gradium.db].",
)
@click.option(
    "--voices-dir", default=None, envvar="GRADIUM_VOICES_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Voice samples, on storage every replica shares [default: DATA_DIR/voices].",
)
@click.option(
    "--max-streams", default=None, type=click.IntRange(min=0), envvar="GRADIUM_MAX_STREAMS",
    help="Streams served at once; more are refused (HTTP 503, WebSocket 1013) [default: no limit].",
)
@click.option(
    "--drain-timeout", default=None, type=click.FloatRange(min=0), envvar="GRADIUM_DRAIN_TIMEOUT_S",
    help="On SIGTERM, seconds the streams in flight may take to finish [default: 30].",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    initial_credits: int,
    stt_workers: int | None,
    stt_threads: int | None,
    log_level: str,
    log_format: str,
    database_url: str | None,
    voices_dir: Path | None,
    max_streams: int | None,
    drain_timeout: float | None,
) -> None:
    """Start the Gradium-compatible speech server (routes under /api/)."""
    from dataclasses import replace

    import uvicorn

    from gradium.server.app import create_app
    from gradium.server.drain import DrainingServer
    from gradium.server.request_logs import configure_json_logging
    from gradium.server.settings import Cluster, Settings

    data_dir = data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    _bootstrap(data_dir, initial_credits, database_url)
    cluster = replace(Cluster(), database_url=database_url or None, voices_dir=voices_dir,
                      json_logs=log_format == "json")
    if max_streams is not None:
        cluster = replace(cluster, max_streams=max_streams)
    if drain_timeout is not None:
        cluster = replace(cluster, drain_timeout_s=drain_timeout)
    settings = Settings(
        data_dir=data_dir, host=host, port=port, initial_credits=initial_credits, cluster=cluster
    )
    if stt_workers is not None:
        settings = replace(settings, stt_workers=max(1, stt_workers))
    if stt_threads is not None:
        settings = replace(settings, stt_threads=stt_threads)
    if cluster.json_logs:
        configure_json_logging(log_level)
    else:
        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _check_models(settings)
    click.echo(f"gradium serving on http://{host}:{port}/api/ (data in {data_dir})")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws_max_size=settings.limits.max_ws_message_bytes,
        ws_per_message_deflate=False,
        # JSON logs: uvicorn's loggers keep the root handler set up above.
        log_config=None if cluster.json_logs else uvicorn.config.LOGGING_CONFIG,
    )
    DrainingServer(config, app.state.runtime.admission, cluster.drain_timeout_s).run()


def _check_models(settings: Settings) -> None:
    """A missing or altered model file stops the start with a message naming it: no silent fall-back.

    Every weight file is hashed (about 1 s for all of them); the engines load lazily later."""
    from gradium.engines.neural_tts import check_kokoro_installed, check_piper_installed
    from gradium.engines.speaker_encoder import WEIGHTS as SPEAKER_ENCODER
    from gradium.engines.voice_files import scan as scan_voice_files
    from gradium.engines.weights import ModelFileError, verified_path
    from gradium.engines.whisper import WhisperModels
    from gradium.speech.stt_engines import WHISPER

    try:
        options = settings.stt_options()
        if options.engine == WHISPER:
            WhisperModels(options.whisper).check_installed()
        if settings.tts_neural:
            check_kokoro_installed()
            check_piper_installed()
        verified_path(SPEAKER_ENCODER)  # cloning embeds every sample
        scan_voice_files(settings.voice_files_dir)  # an operator's own voice files (VoiceFileError)
    except (ModelFileError, ValueError) as exc:
        raise click.ClickException(
            f"cannot start: {exc} (or turn the neural engines off: GRADIUM_TTS_NEURAL=0, "
            "GRADIUM_STT_ENGINE=pocketsphinx)"
        ) from None


def register(group: click.Group) -> None:
    group.add_command(serve)
