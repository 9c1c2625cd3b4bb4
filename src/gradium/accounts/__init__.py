"""Accounts: organisations, API keys, credits and usage metering in an embedded SQLite database."""

from gradium.accounts.errors import (
    AccountError,
    AmbiguousKey,
    InsufficientCredits,
    OrganisationExists,
    UnknownKey,
    UnknownOrganisation,
)
from gradium.accounts.models import ApiKey, CreditBalance, Organisation
from gradium.accounts.store import AccountStore

__all__ = [
    "AccountError",
    "AccountStore",
    "AmbiguousKey",
    "ApiKey",
    "CreditBalance",
    "InsufficientCredits",
    "Organisation",
    "OrganisationExists",
    "UnknownKey",
    "UnknownOrganisation",
]
