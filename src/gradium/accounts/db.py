"""Engine set-up (SQLite embedded, or PostgreSQL shared by replicas) and the schema (SQLAlchemy Core).

The tables here describe the *current* schema; the Alembic revisions under ``migrations/`` create
it on either database. A test checks that both agree, so a change here needs a new revision.

Both databases give read-then-write transactions the same guarantee: one at a time. SQLite takes
its write lock up front (``BEGIN IMMEDIATE``); PostgreSQL, shared by several server processes,
takes one transaction-scoped advisory lock (``WRITE_LOCK_KEY``) instead, so that sequences such as
"is the name free? then insert" or "no key yet? then bootstrap" cannot interleave across replicas.
The hot path, a credit charge, stays one guarded ``UPDATE`` on both.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import ConnectionPoolEntry

DB_FILENAME = "gradium.db"
# How long a writer waits for another writer (thread or process, e.g. the admin CLI while the
# server runs) before SQLite gives up with "database is locked".
BUSY_TIMEOUT_S = 30.0
# Execution option asking for a serialised write transaction: see ``_begin`` and ``_begin_postgres``.
WRITE_OPTION = "gradium_write"
# pg_advisory_xact_lock keys (any 64-bit numbers, fixed so that every replica uses the same ones).
WRITE_LOCK_KEY = 0x67726164  # "grad"
MIGRATION_LOCK_KEY = 0x6D696772  # "migr"
# Connections each server process keeps open to PostgreSQL (the pool's size, plus as many again
# under bursts): every blocking store call runs on a worker thread holding one connection.
POSTGRES_POOL_SIZE = 10


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes; SQLite has no timezone type, so store naive UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


metadata = sa.MetaData()

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("allocated_credits", sa.BigInteger, nullable=False, default=0),
    sa.Column("remaining_credits", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.CheckConstraint("remaining_credits >= 0", name="ck_organisations_remaining_non_negative"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("name", sa.String(200), nullable=False),
    # First characters after "gd_": not secret, only there to tell keys apart in listings.
    sa.Column("prefix", sa.String(16), nullable=False, index=True),
    # Hex SHA-256 of the whole key; the unique index makes authentication one index lookup.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
)

usage = sa.Table(
    "usage",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("service", sa.String(40), nullable=False),
    sa.Column("requests", sa.Integer, nullable=False, default=1),
    sa.Column("characters", sa.BigInteger, nullable=False, default=0),
    sa.Column("audio_seconds", sa.Float, nullable=False, default=0.0),
    sa.Column("credits", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Index("ix_usage_org_service", "org_id", "service"),
)

custom_voices = sa.Table(
    "custom_voices",
    metadata,
    sa.Column("uid", sa.String(64), primary_key=True),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("start_s", sa.Float, nullable=False, default=0.0),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("profile_json", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow),
)

voice_drafts = sa.Table(
    "voice_drafts",
    metadata,
    sa.Column("embedding_id", sa.String(64), primary_key=True),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("profile_json", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("promoted_uid", sa.String(64), nullable=True),
)


def new_id(result: sa.CursorResult[Any]) -> int:
    """The integer primary key an INSERT created (SQLite's lastrowid; RETURNING on PostgreSQL)."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql:", "postgresql+", "postgres:"))


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (SQLAlchemy's own default is psycopg2)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def describe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return sa.engine.make_url(normalise_url(url)).render_as_string(hide_password=True)


def create_engine(url: str) -> Engine:
    """An engine for an SQLite file or a PostgreSQL database.

    Transactions opened on ``engine.execution_options(gradium_write=True)`` run one at a time
    (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock); use that for every
    read-then-write transaction.
    """
    if is_postgres_url(url):
        return _create_postgres_engine(url)
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    sa.event.listen(engine, "connect", _on_connect)
    sa.event.listen(engine, "begin", _begin)
    return engine


def _on_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not the sqlite3 module, emit BEGIN: the module's implicit, deferred BEGIN
    # cannot be made IMMEDIATE, and PRAGMA journal_mode fails inside a transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (authentication) proceed while a writer (a charge) commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        # NORMAL is durable against application crashes under WAL; a power cut can lose the last
        # commits (credits come back), never corrupt the file. FULL would fsync every charge.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _begin(connection: sa.Connection) -> None:
    # A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY when
    # another connection wrote in between (the busy timeout does not apply to that case).
    # IMMEDIATE takes the write lock up front, waiting up to the busy timeout, so writers queue.
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def _create_postgres_engine(url: str) -> Engine:
    engine = sa.create_engine(
        normalise_url(url),
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_POOL_SIZE,
        # A replica outlives database restarts and fail-overs: test a pooled connection before use.
        pool_pre_ping=True,
    )
    sa.event.listen(engine, "begin", _begin_postgres)
    return engine


def _begin_postgres(connection: sa.Connection) -> None:
    # READ COMMITTED is enough for a single guarded UPDATE (a concurrent charge waits for the row
    # lock and re-checks the guard), but not for read-then-write sequences across replicas: those
    # queue on one advisory lock, released at COMMIT or ROLLBACK.
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
