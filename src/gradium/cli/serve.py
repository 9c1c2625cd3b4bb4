"""``gradium serve``: start the speech server (creating the first organisation and key if needed)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gradium.cli.common import default_data_dir

if TYPE_CHECKING:
    from gradium.server.settings import Settings


def _bootstrap(data_dir: Path, initial_credits: int) -> None:
    from gradium.accounts.store import AccountStore

    store = AccountStore(data_dir)
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
@click.option("--stt-workers", default=None, type=int, help="STT worker processes [default: CPU count].")
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def serve(
    host: str, port: int, data_dir: Path | None, initial_credits: int, stt_workers: int | None, log_level: str
) -> None:
    """Start the Gradium-compatible speech server (routes under /api/)."""
    import uvicorn

    from gradium.server.app import create_app
    from gradium.server.settings import Settings

    data_dir = data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    _bootstrap(data_dir, initial_credits)
    settings = Settings(data_dir=data_dir, host=host, port=port, initial_credits=initial_credits)
    if stt_workers is not None:
        settings = Settings(
            data_dir=data_dir,
            host=host,
            port=port,
            initial_credits=initial_credits,
            stt_workers=max(1, stt_workers),
        )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _check_models(settings)
    click.echo(f"gradium serving on http://{host}:{port}/api/ (data in {data_dir})")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        ws_max_size=settings.limits.max_ws_message_bytes,
        ws_per_message_deflate=False,
    )


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
