"""Two outbox indexes for a sync of a long outbox (a month offline: tens of thousands of pending entries):

- ``ix_outbox_state_seq``: the oldest 100 pending entries, each batch (``state`` alone left SQLite sorting them);
- ``ix_outbox_row_state``: whether rows being merged have a change pending (else every pending entry is read).

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
    op.create_index("ix_outbox_row_state", "outbox", ["row_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_outbox_row_state", table_name="outbox")
    op.drop_index("ix_outbox_state_seq", table_name="outbox")
