"""Immutable values returned by the account store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gradium.accounts.keys import KEY_PREFIX


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    allocated_credits: int
    remaining_credits: int
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "allocated_credits": self.allocated_credits,
            "remaining_credits": self.remaining_credits,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class ApiKey:
    id: int
    org_id: int
    name: str
    prefix: str
    is_admin: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def display(self) -> str:
        """How a key is shown to people: enough to recognise it, useless to an attacker."""
        return f"{KEY_PREFIX}{self.prefix}..."

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org_id": self.org_id,
            "name": self.name,
            "prefix": self.prefix,
            "is_admin": self.is_admin,
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
        }


@dataclass(frozen=True)
class CreditBalance:
    allocated: int
    remaining: int

    def to_json(self) -> dict[str, Any]:
        # Both the client docstring's keys and the OpenAPI document's keys (protocol §14 A1).
        return {
            "remaining": self.remaining,
            "allocated": self.allocated,
            "remaining_credits": self.remaining,
            "allocated_credits": self.allocated,
            "billing_period": "lifetime",
            "next_rollover_date": None,
            "plan_name": "self-hosted",
        }


@dataclass(frozen=True)
class CustomVoice:
    """An organisation's own voice: cloned from a sample, or promoted from a designer draft."""

    uid: str
    org_id: int
    name: str
    description: str | None
    language: str | None
    start_s: float
    filename: str  # the stored sample's file name under DATA_DIR/voices/<org_id>/; "" if none
    profile: dict[str, Any] | None  # the voice profile (gradium.speech.voice_profile), JSON form
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class VoiceDraft:
    """A voice-designer draft (``vox_emb_...``): usable for previews until it expires."""

    embedding_id: str
    org_id: int
    prompt: str
    language: str
    profile: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    promoted_uid: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "embedding_id": self.embedding_id,
            "ready": True,  # profiles are computed synchronously from the prompt
            "expires_at": _iso(self.expires_at),
            "created_at": _iso(self.created_at),
            "prompt": self.prompt,
            "language": self.language,
            "voice_uid": self.promoted_uid,
        }
