"""Alembic environment for the accounts database, driven from code (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from gradium.accounts.db import MIGRATION_LOCK_KEY, create_engine

# The directory holding env.py and versions/; it ships as package data, so this works from an
# installed wheel as well as from the source tree.
SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine``; a no-op when it is already at ``revision``."""
    config = alembic_config()
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together would otherwise race to create the same tables; the lock
            # holds until the commit below, so the second finds the schema current.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        # env.py picks the connection up from here instead of opening its own.
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def migrate(db_url: str) -> None:
    """Bring the database at ``db_url`` to the newest schema, creating it if needed."""
    engine = create_engine(db_url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()
