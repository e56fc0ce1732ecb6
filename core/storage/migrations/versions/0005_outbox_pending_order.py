"""The outbox's pending entries in their order, from an index: a sync takes the oldest 100 pending entries per batch,
and an outbox of a month offline holds tens of thousands (``state`` alone left SQLite sorting them every batch).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_state_seq", "outbox", ["state", "seq"])


def downgrade() -> None:
    op.drop_index("ix_outbox_state_seq", table_name="outbox")
