"""Initial accounts schema: organisations, API keys, usage and custom voices.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Revisions are frozen snapshots, so they spell types out instead of importing gradium.accounts.db
# (whose UtcDateTime stores a plain DATETIME).


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("allocated_credits", sa.BigInteger, nullable=False),
        sa.Column("remaining_credits", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("name"),
        sa.CheckConstraint("remaining_credits >= 0", name="ck_organisations_remaining_non_negative"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("ix_api_keys_org_id", "api_keys", ["org_id"])
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])
    op.create_table(
        "usage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("characters", sa.BigInteger, nullable=False),
        sa.Column("audio_seconds", sa.Float, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_usage_org_service", "usage", ["org_id", "service"])
    op.create_table(
        "custom_voices",
        sa.Column("uid", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("profile_json", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_custom_voices_org_id", "custom_voices", ["org_id"])


def downgrade() -> None:
    op.drop_table("custom_voices")
    op.drop_table("usage")
    op.drop_table("api_keys")
    op.drop_table("organisations")
