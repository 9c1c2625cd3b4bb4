"""Small helpers shared by the CLI command modules."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "GRADIUM_DATA_DIR"
# The PostgreSQL database several replicas share (gradium serve --database-url, and the admin commands).
DATABASE_URL_ENV = "GRADIUM_DATABASE_URL"


def default_data_dir() -> Path:
    """Where the server keeps its state: ``$GRADIUM_DATA_DIR``, else ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")
