"""The account store: organisations, API keys, credits and usage in ``DATA_DIR/gradium.db``, or in
a PostgreSQL database shared by several server replicas (``database_url``).

Every method is synchronous and thread-safe; the server calls them through ``asyncio.to_thread``.
Each call uses its own pooled connection, and read-then-write sequences run one at a time, in
``BEGIN IMMEDIATE`` transactions on SQLite and under an advisory lock on PostgreSQL (``db._begin``,
``db._begin_postgres``), so concurrent writers, in one process or in several replicas, queue
instead of racing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gradium.accounts import keys as keylib
from gradium.accounts.db import (
    DB_FILENAME,
    WRITE_OPTION,
    api_keys,
    create_engine,
    describe_url,
    new_id,
    organisations,
    sqlite_url,
    usage,
    utcnow,
)
from gradium.accounts.errors import (
    AmbiguousKey,
    InsufficientCredits,
    OrganisationExists,
    UnknownKey,
    UnknownOrganisation,
)
from gradium.accounts.ledger import LedgerMixin
from gradium.accounts.migrations import upgrade_engine
from gradium.accounts.models import ApiKey, CreditBalance, CustomVoice, Organisation, VoiceDraft
from gradium.accounts.voice_store import VOICES_DIRNAME, VoiceStoreMixin

__all__ = [
    "DEFAULT_ORGANISATION", "AccountStore", "ApiKey", "CreditBalance", "CustomVoice", "Organisation",
    "VoiceDraft",
]

DEFAULT_ORGANISATION = "default"
BOOTSTRAP_KEY_NAME = "admin"
# last_used_at is informational; refreshing it at most this often keeps authentication read-only
# for almost every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_KEY_COLUMNS = (
    api_keys.c.id, api_keys.c.org_id, api_keys.c.name, api_keys.c.prefix, api_keys.c.is_admin,
    api_keys.c.created_at, api_keys.c.revoked_at, api_keys.c.last_used_at,
)


class AccountStore(VoiceStoreMixin, LedgerMixin):
    """Thread-safe access to one data directory's accounts database; call ``migrate()`` first.

    Custom voices and designer drafts (``create_voice``, ``get_voice``, ...) come from
    :class:`gradium.accounts.voice_store.VoiceStoreMixin`; metered charges booked with their usage
    (``charge_usage``, ``refund_usage``, ``finish_usage``, ``ledger_problems``) from
    :class:`gradium.accounts.ledger.LedgerMixin`.
    """

    def __init__(
        self, data_dir: Path, database_url: str | None = None, voices_dir: Path | None = None
    ) -> None:
        """``database_url`` (``postgresql://...``) replaces ``DATA_DIR/gradium.db``; ``voices_dir``
        replaces ``DATA_DIR/voices`` (replicas share both: see the README's replicas section)."""
        if database_url is None:  # the SQLite file lives there (samples make their own folders)
            data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILENAME
        self.url = database_url or sqlite_url(self.path)
        self._voices_dir = voices_dir if voices_dir is not None else data_dir / VOICES_DIRNAME
        self._engine = create_engine(self.url)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})

    @property
    def location(self) -> str:
        """Where the accounts live, for messages: the SQLite file or the URL without password."""
        return str(self.path) if self.url == sqlite_url(self.path) else describe_url(self.url)

    def migrate(self) -> None:
        """Create or upgrade the schema; cheap and harmless when already current."""
        upgrade_engine(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    # Organisations -------------------------------------------------------------------------------

    def bootstrap(self, initial_credits: int) -> str | None:
        """First start: organisation "default" and an admin key, unless any key exists already.

        Returns the new key's plaintext (to show once), or None when nothing was created.
        """
        _check_non_negative("initial_credits", initial_credits)
        with self._writer.begin() as conn:
            if conn.scalar(sa.select(api_keys.c.id).limit(1)) is not None:
                return None
            org_id = conn.scalar(
                sa.select(organisations.c.id).where(organisations.c.name == DEFAULT_ORGANISATION))
            if org_id is None:
                org_id = _insert_organisation(conn, DEFAULT_ORGANISATION, initial_credits)
            _, plaintext = _insert_key(conn, org_id, BOOTSTRAP_KEY_NAME, admin=True)
            return plaintext

    def create_organisation(self, name: str, credits: int = 0) -> Organisation:
        name = name.strip()
        if not name:
            raise ValueError("organisation name must not be empty")
        _check_non_negative("credits", credits)
        with self._writer.begin() as conn:
            if conn.scalar(sa.select(organisations.c.id).where(organisations.c.name == name)) is not None:
                raise OrganisationExists(f"an organisation named {name!r} already exists")
            org_id = _insert_organisation(conn, name, credits)
            return _get_organisation(conn, org_id)

    def list_organisations(self) -> list[Organisation]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(organisations).order_by(organisations.c.id)).mappings().all()
        return [_organisation(row) for row in rows]

    def get_organisation(self, org_id: int) -> Organisation:
        with self._engine.connect() as conn:
            return _get_organisation(conn, org_id)

    def find_organisation(self, id_or_name: str | int) -> Organisation:
        """Look an organisation up by id (an int or a string of digits) or else by name."""
        ref = str(id_or_name).strip()
        with self._engine.connect() as conn:
            row = _organisation_row(conn, organisations.c.id == int(ref)) if ref.isdigit() else None
            if row is None:
                row = _organisation_row(conn, organisations.c.name == ref)
        if row is None:
            raise UnknownOrganisation(f"no organisation {ref!r}")
        return _organisation(row)

    # Credits -------------------------------------------------------------------------------------

    def credits(self, org_id: int) -> CreditBalance:
        with self._engine.connect() as conn:
            return _balance(conn, org_id)

    def grant_credits(self, org_id: int, amount: int) -> CreditBalance:
        """Add ``amount`` to both the allocation and what is left."""
        if amount <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        with self._writer.begin() as conn:
            updated = conn.execute(
                sa.update(organisations)
                .where(organisations.c.id == org_id)
                .values(allocated_credits=organisations.c.allocated_credits + amount,
                        remaining_credits=organisations.c.remaining_credits + amount))
            if updated.rowcount != 1:
                raise UnknownOrganisation(f"no organisation {org_id}")
            return _balance(conn, org_id)

    def charge(self, org_id: int, amount: int, *, allow_partial: bool = False) -> int:
        """Deduct credits atomically and return how many were deducted.

        Without ``allow_partial`` it is all or nothing: InsufficientCredits when fewer than
        ``amount`` are left. With it, whatever is left (up to ``amount``) is taken.
        """
        _check_non_negative("amount", amount)
        if not allow_partial:
            return self._charge_exactly(org_id, amount)
        with self._writer.begin() as conn:
            remaining = conn.scalar(
                sa.select(organisations.c.remaining_credits).where(organisations.c.id == org_id))
            if remaining is None:
                raise UnknownOrganisation(f"no organisation {org_id}")
            taken = min(amount, int(remaining))
            # The guard repeats the check inside the single UPDATE, so even a caller that somehow
            # bypassed the write lock could never drive the balance negative.
            updated = conn.execute(
                sa.update(organisations)
                .where(organisations.c.id == org_id, organisations.c.remaining_credits >= taken)
                .values(remaining_credits=organisations.c.remaining_credits - taken))
            if updated.rowcount != 1:
                raise InsufficientCredits(remaining, amount)
            return taken

    def _charge_exactly(self, org_id: int, amount: int) -> int:
        """All-or-nothing charge in one guarded UPDATE (the hot path: every TTS clause pays)."""
        with self._writer.begin() as conn:
            charged = conn.execute(
                sa.update(organisations)
                .where(organisations.c.id == org_id, organisations.c.remaining_credits >= amount)
                .values(remaining_credits=organisations.c.remaining_credits - amount)
                .returning(organisations.c.id)).first()
            if charged is not None:
                return amount
            remaining = conn.scalar(
                sa.select(organisations.c.remaining_credits).where(organisations.c.id == org_id))
        if remaining is None:
            raise UnknownOrganisation(f"no organisation {org_id}")
        raise InsufficientCredits(remaining, amount)

    # Usage ---------------------------------------------------------------------------------------

    def record_usage(
        self,
        org_id: int,
        service: str,
        *,
        requests: int = 1,
        characters: int = 0,
        audio_seconds: float = 0.0,
        credits: int = 0,
    ) -> None:
        if not service:
            raise ValueError("service must not be empty")
        for label, value in (("requests", requests), ("characters", characters),
                             ("audio_seconds", audio_seconds), ("credits", credits)):
            _check_non_negative(label, value)
        with self._engine.begin() as conn:
            conn.execute(sa.insert(usage).values(
                org_id=org_id, service=service, requests=requests, characters=characters,
                audio_seconds=float(audio_seconds), credits=credits))

    def usage_summary(self, org_id: int) -> dict[str, Any]:
        """Totals per service, JSON-ready; an organisation without usage gets empty totals."""
        query = (
            sa.select(
                usage.c.service,
                sa.func.sum(usage.c.requests),
                sa.func.sum(usage.c.characters),
                sa.func.sum(usage.c.audio_seconds),
                sa.func.sum(usage.c.credits),
            )
            .where(usage.c.org_id == org_id)
            .group_by(usage.c.service)
            .order_by(usage.c.service)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return _summary(rows)

    def usage_by_day(self, org_id: int, days: int) -> list[dict[str, Any]]:
        """Usage per UTC day and service over the last ``days`` days (today included), oldest
        first: ``[{"date": "2026-12-02", "service": "tts", "requests", "credits", ...}]``."""
        since = (utcnow() - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        query = (
            sa.select(usage.c.created_at, usage.c.service, usage.c.requests, usage.c.characters,
                      usage.c.audio_seconds, usage.c.credits)
            .where(usage.c.org_id == org_id, usage.c.created_at >= since)
            .order_by(usage.c.created_at)
        )
        buckets: dict[tuple[str, str], dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for created_at, service, requests, characters, audio_seconds, credits in conn.execute(query):
                day = created_at.date().isoformat()
                entry = buckets.setdefault((day, service), {
                    "date": day, "service": service, "requests": 0, "characters": 0,
                    "audio_seconds": 0.0, "credits": 0})
                entry["requests"] += int(requests or 0)
                entry["characters"] += int(characters or 0)
                entry["audio_seconds"] = round(entry["audio_seconds"] + float(audio_seconds or 0.0), 3)
                entry["credits"] += int(credits or 0)
        return list(buckets.values())

    # API keys ------------------------------------------------------------------------------------

    def create_key(self, org_id: int, name: str, *, admin: bool = False) -> tuple[ApiKey, str]:
        """Create a key; the plaintext is returned here and never again."""
        with self._writer.begin() as conn:
            _get_organisation(conn, org_id)
            key_id, plaintext = _insert_key(conn, org_id, name, admin=admin)
            row = conn.execute(sa.select(*_KEY_COLUMNS).where(api_keys.c.id == key_id)).mappings().one()
        return _api_key(row), plaintext

    def list_keys(self, org_id: int | None = None) -> list[ApiKey]:
        query = sa.select(*_KEY_COLUMNS).order_by(api_keys.c.id)
        if org_id is not None:
            query = query.where(api_keys.c.org_id == org_id)
        with self._engine.connect() as conn:
            return [_api_key(row) for row in conn.execute(query).mappings()]

    def revoke_key(self, key_id_or_prefix: str | int) -> ApiKey:
        """Revoke a key named by id, display prefix (``gd_`` optional) or full plaintext.

        Revoking a revoked key changes nothing. Raises UnknownKey (a KeyError) or AmbiguousKey.
        """
        with self._writer.begin() as conn:
            query = sa.select(*_KEY_COLUMNS).where(_key_reference(key_id_or_prefix))
            rows = conn.execute(query).mappings().all()
            if not rows:
                raise UnknownKey(f"no API key {key_id_or_prefix!r}")
            if len(rows) > 1:
                ids = ", ".join(str(row["id"]) for row in rows)
                raise AmbiguousKey(f"{key_id_or_prefix!r} matches several keys (ids {ids}); use the id")
            key = _api_key(rows[0])
            if key.revoked_at is not None:
                return key
            now = utcnow()
            conn.execute(sa.update(api_keys).where(api_keys.c.id == key.id).values(revoked_at=now))
            return replace(key, revoked_at=now)

    def authenticate(self, plaintext: str) -> ApiKey | None:
        """The active key matching ``plaintext``, or None (unknown, malformed or revoked)."""
        if not keylib.looks_like_key(plaintext):
            return None
        digest = keylib.hash_key(plaintext)
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(*_KEY_COLUMNS, api_keys.c.key_hash)
                .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))).mappings().first()
        # The index lookup already matched; the constant-time comparison is defence in depth.
        if row is None or not keylib.hashes_match(row["key_hash"], digest):
            return None
        key = _api_key(row)
        self._touch(key)
        return key

    def _touch(self, key: ApiKey) -> None:
        now = utcnow()
        if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
            return
        with self._engine.begin() as conn:
            conn.execute(sa.update(api_keys).where(api_keys.c.id == key.id).values(last_used_at=now))


# Helpers taking a connection, so that they compose inside one transaction. -------------------------


def _check_non_negative(label: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{label} must not be negative, got {value}")


def _insert_organisation(conn: sa.Connection, name: str, credits: int) -> int:
    result = conn.execute(sa.insert(organisations).values(
        name=name, allocated_credits=credits, remaining_credits=credits))
    return new_id(result)


def _insert_key(conn: sa.Connection, org_id: int, name: str, *, admin: bool) -> tuple[int, str]:
    plaintext = keylib.generate_key()
    result = conn.execute(sa.insert(api_keys).values(
        org_id=org_id, name=name, prefix=keylib.display_prefix(plaintext),
        key_hash=keylib.hash_key(plaintext), is_admin=admin))
    return new_id(result), plaintext


def _get_organisation(conn: sa.Connection, org_id: int) -> Organisation:
    row = _organisation_row(conn, organisations.c.id == org_id)
    if row is None:
        raise UnknownOrganisation(f"no organisation {org_id}")
    return _organisation(row)


def _organisation_row(conn: sa.Connection, condition: sa.ColumnElement[bool]) -> sa.RowMapping | None:
    return conn.execute(sa.select(organisations).where(condition)).mappings().first()


def _balance(conn: sa.Connection, org_id: int) -> CreditBalance:
    org = _get_organisation(conn, org_id)
    return CreditBalance(allocated=org.allocated_credits, remaining=org.remaining_credits)


def _key_reference(ref: str | int) -> sa.ColumnElement[bool]:
    """Which keys ``ref`` may name: an id, a display prefix, or the whole plaintext key."""
    text = str(ref).strip().rstrip(".…")
    if keylib.looks_like_key(text):
        return api_keys.c.key_hash == keylib.hash_key(text)
    conditions = [api_keys.c.prefix == text.removeprefix(keylib.KEY_PREFIX)]
    if text.isdigit():
        conditions.append(api_keys.c.id == int(text))
    return sa.or_(*conditions)


def _organisation(row: sa.RowMapping) -> Organisation:
    return Organisation(
        id=row["id"], name=row["name"], allocated_credits=row["allocated_credits"],
        remaining_credits=row["remaining_credits"], created_at=row["created_at"])


def _api_key(row: sa.RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"], org_id=row["org_id"], name=row["name"], prefix=row["prefix"],
        is_admin=bool(row["is_admin"]), created_at=row["created_at"], revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"])


def _summary(rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = {}
    for service, requests, characters, audio_seconds, credits in rows:
        services[service] = {
            "requests": int(requests or 0),
            "characters": int(characters or 0),
            "audio_seconds": round(float(audio_seconds or 0.0), 3),
            "credits": int(credits or 0),
        }
    totals = services.values()
    return {
        "services": services,
        "total_requests": sum(entry["requests"] for entry in totals),
        "total_characters": sum(entry["characters"] for entry in totals),
        "total_audio_seconds": round(sum(entry["audio_seconds"] for entry in totals), 3),
        "total_credits": sum(entry["credits"] for entry in totals),
    }
