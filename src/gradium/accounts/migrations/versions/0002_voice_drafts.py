"""Voice-designer drafts (``vox_emb_...``), kept until they expire.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "voice_drafts",
        sa.Column("embedding_id", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("profile_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("promoted_uid", sa.String(64), nullable=True),
    )
    op.create_index("ix_voice_drafts_org_id", "voice_drafts", ["org_id"])
    op.create_index("ix_voice_drafts_expires_at", "voice_drafts", ["expires_at"])


def downgrade() -> None:
    op.drop_table("voice_drafts")
