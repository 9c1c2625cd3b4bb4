"""The ``gradium`` command line: one click group, with commands registered from sibling modules."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

# Each module defines ``register(group)`` and adds its commands; a module that is missing (during
# development) is skipped so that the rest of the CLI keeps working.
_COMMAND_MODULES = ("serve", "admin", "client_commands", "bench")


class _Cli(click.Group):
    """The root group: a reader that stops reading (``gradium voices list | head``) is not an error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(0)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout has no file descriptor (captured): nothing will be flushed to a pipe
    finally:
        os.close(devnull)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gradium")
@click.option("--api-key", help="API key for the client commands (before or after the command name).")
@click.option("--base-url", help="Server API root for the client commands.")
@click.pass_context
def main(ctx: click.Context, api_key: str | None, base_url: str | None) -> None:
    """Self-hosted speech platform: server, administration and client commands."""
    ctx.obj = {"api_key": api_key, "base_url": base_url}


for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"gradium.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"gradium.cli.{_name}":
            raise
        continue
    _module.register(main)
