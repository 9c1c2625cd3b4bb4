"""Errors raised by the account store; the server and the CLI map them to their own responses."""

from __future__ import annotations


class AccountError(Exception):
    """Base class, so that callers can catch every account problem at once."""


class InsufficientCredits(AccountError):
    """A charge asked for more credits than the organisation has left; nothing was deducted."""

    def __init__(self, remaining: int, requested: int) -> None:
        super().__init__(remaining, requested)
        self.remaining = remaining
        self.requested = requested

    def __str__(self) -> str:
        return f"insufficient credits: {self.requested} requested, {self.remaining} remaining"


class _NotFound(AccountError, KeyError):
    # KeyError so that ``except KeyError`` works as documented; KeyError's own __str__ would
    # quote the message, which reads badly in CLI output, hence the override.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UnknownOrganisation(_NotFound):
    """No organisation has the given id (or name)."""


class UnknownKey(_NotFound):
    """No API key has the given id or prefix."""


class AmbiguousKey(AccountError, ValueError):
    """A key reference matched more than one key (for example a prefix shared by two keys)."""


class OrganisationExists(AccountError, ValueError):
    """An organisation with that name already exists (names are unique)."""


class UnknownVoice(_NotFound):
    """No custom voice with that uid belongs to the organisation."""


class UnknownDraft(_NotFound):
    """No live (unexpired) voice-designer draft with that id belongs to the organisation."""


class VoiceConflict(AccountError, ValueError):
    """The voice quota is full, or a draft was already promoted."""
