"""The ``gradium`` command line: one click group, with commands registered from sibling modules."""

from __future__ import annotations

import importlib

import click

# Each module defines ``register(group)`` and adds its commands; a module that is missing (during
# development) is skipped so that the rest of the CLI keeps working.
_COMMAND_MODULES = ("serve", "admin", "client_commands", "bench")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gradium")
def main() -> None:
    """Self-hosted speech platform: server, administration and client commands."""


for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"gradium.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"gradium.cli.{_name}":
            raise
        continue
    _module.register(main)
