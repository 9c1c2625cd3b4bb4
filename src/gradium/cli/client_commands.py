"""Client commands of the ``gradium`` CLI: tts, stt, voices, credits, usage.

Every command takes ``--base-url`` and ``--api-key`` (or ``$GRADIUM_BASE_URL`` /
``$GRADIUM_API_KEY``). User errors print one line to stderr and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
import numpy.typing as npt
from click.core import ParameterSource

from gradium import errors
from gradium.audio.output import patch_wav_file_sizes
from gradium.client import GradiumClient
from gradium.client.audio_input import to_int16

F = TypeVar("F", bound=Callable[..., Any])

# Output extensions the TTS command recognises, and the format each one implies.
_TTS_FORMATS_BY_EXTENSION = {
    ".wav": "wav",
    ".pcm": "pcm",
    ".raw": "pcm",
    ".ogg": "opus",
    ".opus": "opus",
    ".ulaw": "ulaw_8000",
    ".alaw": "alaw_8000",
}
_STT_RATE = 24000
_STT_CHUNK = 1920  # 80 ms at 24 kHz: one model frame per message


def _connection_options(func: F) -> F:
    func = click.option(
        "--api-key",
        envvar="GRADIUM_API_KEY",
        show_envvar=True,
        help="API key (x-api-key header).",
    )(func)
    func = click.option(
        "--base-url",
        envvar="GRADIUM_BASE_URL",
        show_envvar=True,
        help="Server API root [default: http://127.0.0.1:8000/api/].",
    )(func)
    return func


def _connection(name: str, value: str | None) -> str | None:
    """A connection option: given after the command, else before it (``gradium --api-key K
    credits``), else from the environment (which click already put in ``value``)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
        return value
    root = ctx.find_root().params.get(name)
    return str(root) if root else value


def _run(
    coro_fn: Callable[[GradiumClient], Coroutine[Any, Any, None]], base_url: str | None, api_key: str | None
) -> None:
    """Run one command against a client; turn expected failures into a one-line error (exit 1)."""
    base_url, api_key = _connection("base_url", base_url), _connection("api_key", api_key)
    if not api_key:
        raise click.ClickException("no API key: pass --api-key or set GRADIUM_API_KEY")

    async def main() -> None:
        async with GradiumClient(api_key=api_key, base_url=base_url) as client:
            await coro_fn(client)

    try:
        asyncio.run(main())
    except errors.GradiumError as exc:
        raise click.ClickException(str(exc)) from None
    except BrokenPipeError:
        raise  # the reader went away (| head): the root group ends quietly
    except (OSError, ValueError, TypeError, LookupError, TimeoutError) as exc:
        raise click.ClickException(str(exc) or type(exc).__name__) from None
    except KeyboardInterrupt:
        raise click.exceptions.Exit(130) from None


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


# -- tts ---------------------------------------------------------------------------------------


def speed_to_padding_bonus(speed: float) -> float:
    """Map a speed factor to the model's ``padding_bonus`` (negative is faster).

    ``padding_bonus = -2 * log2(speed)``, clamped to the model's [-4, 4]: 1.0 is the normal pace
    (0), 2.0 gives -2.0 and 0.5 gives +2.0, the "faster"/"slower" values of the documentation.
    """
    if not speed > 0 or math.isinf(speed):
        raise click.BadParameter("must be a positive number", param_hint="--speed")
    return max(-4.0, min(4.0, round(-2.0 * math.log2(speed), 3)))


def tts_format_for(output: str | None, explicit: str | None) -> str:
    """--format if given, else the one the output file's extension names (an unknown extension
    is an error rather than WAV bytes in a file that claims to be something else), else WAV."""
    if explicit:
        return explicit
    if not output or output == "-":
        return "wav"
    suffix = Path(output).suffix.lower()
    if suffix not in _TTS_FORMATS_BY_EXTENSION:
        known = ", ".join(_TTS_FORMATS_BY_EXTENSION)
        raise click.BadParameter(
            f"cannot tell the audio format from {suffix or 'no extension'!r}: use one of {known}, "
            "or choose it with --format",
            param_hint="-o/--output",
        )
    return _TTS_FORMATS_BY_EXTENSION[suffix]


@click.command("tts")
@click.argument("text")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), help="Output file [default: stdout]."
)
@click.option("--voice-id", help="Voice id (catalog or custom voice).")
@click.option(
    "--speed", type=float, help="Speaking rate, 2.0 = twice as fast (sets padding_bonus = -2*log2(speed))."
)
@click.option(
    "-f", "--format", "fmt", help="Output format: wav, pcm, opus, ulaw_8000, alaw_8000, pcm_16000, ..."
)
@click.option("--model-name", help="TTS model name.")
@_connection_options
def tts_command(
    text: str,
    output: str | None,
    voice_id: str | None,
    speed: float | None,
    fmt: str | None,
    model_name: str | None,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Synthesise TEXT ("-" reads it from stdin) to an audio file or to stdout.

    The format follows the output extension (.wav, .pcm, .ogg/.opus, .ulaw, .alaw) unless
    --format is given.
    """
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise click.UsageError("TEXT is empty")
    to_stdout = output is None or output == "-"
    if to_stdout and sys.stdout.isatty():
        raise click.ClickException("refusing to write binary audio to a terminal: use -o FILE or a pipe")
    setup: dict[str, Any] = {"output_format": tts_format_for(output, fmt)}
    if voice_id:
        setup["voice_id"] = voice_id
    if model_name:
        setup["model_name"] = model_name
    if speed is not None:
        setup["json_config"] = {"padding_bonus": speed_to_padding_bonus(speed)}

    async def run(client: GradiumClient) -> None:
        stream = await client.tts_stream(setup, text)
        if to_stdout:
            sink = sys.stdout.buffer
            async for chunk in stream.iter_bytes():
                sink.write(chunk)
                sink.flush()
            return
        assert output is not None
        # Write to a temporary name and rename, so a failed request leaves no truncated file.
        tmp = Path(f"{output}.part")
        try:
            with tmp.open("wb") as sink_file:
                async for chunk in stream.iter_bytes():
                    sink_file.write(chunk)
            # The stream's WAV header carries placeholder sizes; the file is complete now.
            if str(setup["output_format"]).startswith("wav"):
                patch_wav_file_sizes(tmp)
            tmp.replace(output)
        finally:
            tmp.unlink(missing_ok=True)

    _run(run, base_url, api_key)


# -- stt ---------------------------------------------------------------------------------------


def load_audio_24k(path: Path, fmt: str | None = None) -> npt.NDArray[np.int16]:
    """Decode an audio file (wav, flac, mp3, ogg/opus) to 24 kHz mono int16 samples."""
    import sphn  # decoders are only needed by this command

    kind = (fmt or path.suffix.lstrip(".")).lower()
    if not path.is_file():
        raise click.ClickException(f"no such file: {path}")
    try:
        if kind in ("ogg", "opus"):
            data, rate = sphn.read_opus(str(path))
            if rate != _STT_RATE:
                data = sphn.resample(data, src_sample_rate=rate, dst_sample_rate=_STT_RATE)
        else:
            data, rate = sphn.read(str(path), sample_rate=_STT_RATE)
    except Exception as exc:  # sphn raises plain exceptions for unreadable or unknown files
        raise click.ClickException(f"cannot decode {path}: {exc}") from None
    samples = np.asarray(data, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=0) if samples.shape[0] > 1 else samples[0]
    # The client's conversion clips, so full-scale samples do not wrap around.
    return to_int16(np.ascontiguousarray(samples, dtype=np.float32))


@click.command("stt")
@click.argument("audio_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON line per segment, then the request id.")
@click.option(
    "-f",
    "--format",
    "fmt",
    help="Input container when the extension does not tell (wav, flac, mp3, ogg, opus).",
)
@click.option("--language", help="Expected language hint (en, fr, de, es, pt).")
@click.option("--model-name", help="STT model name.")
@_connection_options
def stt_command(
    audio_file: Path,
    as_json: bool,
    fmt: str | None,
    language: str | None,
    model_name: str | None,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Transcribe AUDIO_FILE (decoded to 24 kHz PCM and streamed in 80 ms chunks)."""
    samples = load_audio_24k(audio_file, fmt)
    setup: dict[str, Any] = {"input_format": "pcm"}
    if model_name:
        setup["model_name"] = model_name
    if language:
        setup["json_config"] = {"language": language}
    show_progress = sys.stderr.isatty()

    async def chunks() -> AsyncIterator[npt.NDArray[np.int16]]:
        from tqdm import tqdm

        total = len(samples) / _STT_RATE
        with tqdm(
            total=round(total, 2), unit="s", disable=not show_progress, file=sys.stderr, leave=False
        ) as bar:
            for start in range(0, len(samples), _STT_CHUNK):
                chunk = samples[start : start + _STT_CHUNK]
                yield chunk
                bar.update(round(len(chunk) / _STT_RATE, 2))

    async def run(client: GradiumClient) -> None:
        stream = await client.stt_stream(setup, chunks())
        texts: list[str] = []
        async for segment in stream.iter_text():
            if as_json:
                line = {"text": segment.text, "start_s": segment.start_s, "stop_s": segment.stop_s}
                click.echo(json.dumps(line, ensure_ascii=False))
            else:
                texts.append(segment.text)
        if as_json:
            click.echo(json.dumps({"request_id": stream.request_id}))
        else:
            click.echo(" ".join(texts))

    _run(run, base_url, api_key)


# -- voices, credits, usage --------------------------------------------------------------------


@click.group("voices")
def voices_group() -> None:
    """Manage custom voices."""


@voices_group.command("list")
@click.option("--catalog", is_flag=True, help="Include the public catalog voices.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
@_connection_options
def voices_list(catalog: bool, as_json: bool, base_url: str | None, api_key: str | None) -> None:
    """List voices (uid, language, name)."""

    async def run(client: GradiumClient) -> None:
        voices = await client.voice_list(include_catalog=catalog)
        if as_json:
            _print_json(voices)
            return
        for voice in voices or []:
            if isinstance(voice, dict):
                click.echo(f"{voice.get('uid', '')}\t{voice.get('language') or '-'}\t{voice.get('name', '')}")

    _run(run, base_url, api_key)


@voices_group.command("show")
@click.argument("uid")
@_connection_options
def voices_show(uid: str, base_url: str | None, api_key: str | None) -> None:
    """Show one voice as JSON."""

    async def run(client: GradiumClient) -> None:
        _print_json(await client.voice_get(uid))

    _run(run, base_url, api_key)


@voices_group.command("create")
@click.argument("audio_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="Voice name [default: the file name].")
@click.option("--description")
@click.option("--language", help="Language of the voice (en, fr, de, es, pt).")
@click.option("--start-s", type=float, default=0.0, show_default=True, help="Where the sample starts.")
@_connection_options
def voices_create(
    audio_file: str,
    name: str | None,
    description: str | None,
    language: str | None,
    start_s: float,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Clone a voice from AUDIO_FILE (about 10 s of clean speech)."""

    async def run(client: GradiumClient) -> None:
        _print_json(
            await client.voice_create(
                audio_file, language=language, name=name, description=description, start_s=start_s
            )
        )

    _run(run, base_url, api_key)


@voices_group.command("update")
@click.argument("uid")
@click.option("--name")
@click.option("--description")
@click.option("--language")
@click.option("--start-s", type=float)
@_connection_options
def voices_update(
    uid: str,
    name: str | None,
    description: str | None,
    language: str | None,
    start_s: float | None,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Change a voice's name, description, language or start."""
    if name is None and description is None and language is None and start_s is None:
        raise click.UsageError("nothing to update: give --name, --description, --language or --start-s")

    async def run(client: GradiumClient) -> None:
        _print_json(
            await client.voice_update(
                uid, name=name, description=description, start_s=start_s, language=language
            )
        )

    _run(run, base_url, api_key)


@voices_group.command("delete")
@click.argument("uid")
@_connection_options
def voices_delete(uid: str, base_url: str | None, api_key: str | None) -> None:
    """Delete a custom voice."""

    async def run(client: GradiumClient) -> None:
        await client.voice_delete(uid)
        click.echo(f"deleted {uid}")

    _run(run, base_url, api_key)


@click.command("credits")
@_connection_options
def credits_command(base_url: str | None, api_key: str | None) -> None:
    """Show the remaining credits (1 credit = 1 character of TTS)."""

    async def run(client: GradiumClient) -> None:
        _print_json(await client.credits())

    _run(run, base_url, api_key)


@click.command("usage")
@_connection_options
def usage_command(base_url: str | None, api_key: str | None) -> None:
    """Show the usage summary."""

    async def run(client: GradiumClient) -> None:
        _print_json(await client.usage_summary())

    _run(run, base_url, api_key)


def register(group: click.Group) -> None:
    for command in (tts_command, stt_command, voices_group, credits_command, usage_command):
        group.add_command(command)
