"""Accounts: organisations, API keys, credits and usage metering in an embedded SQLite database, or
in a PostgreSQL database that several server replicas share."""

from gradium.accounts.errors import (
    AccountError,
    AmbiguousKey,
    InsufficientCredits,
    OrganisationExists,
    UnknownDraft,
    UnknownKey,
    UnknownOrganisation,
    UnknownVoice,
    VoiceConflict,
)
from gradium.accounts.models import ApiKey, CreditBalance, CustomVoice, Organisation, VoiceDraft
from gradium.accounts.store import AccountStore

__all__ = [
    "AccountError",
    "AccountStore",
    "AmbiguousKey",
    "ApiKey",
    "CreditBalance",
    "CustomVoice",
    "InsufficientCredits",
    "Organisation",
    "OrganisationExists",
    "UnknownDraft",
    "UnknownKey",
    "UnknownOrganisation",
    "UnknownVoice",
    "VoiceConflict",
    "VoiceDraft",
]
