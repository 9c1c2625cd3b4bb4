"""Exceptions shared by the audio encoders, decoders and file readers."""

from __future__ import annotations


class UnknownFormatError(ValueError):
    """An audio format name that this server does not offer in that direction."""

    def __init__(self, name: str, direction: str, valid: list[str]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown {direction} format {name!r}; valid formats: {', '.join(valid)}")


class AudioFormatError(ValueError):
    """Audio bytes that cannot be decoded in the declared format (bad header, corrupt stream...)."""
