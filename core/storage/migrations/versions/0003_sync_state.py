"""What sync needs: who made each queued change, when it was last sent, and this workstation's view of the server.

- ``outbox.actor_id``: the user whose change an entry is (the server checks that user's role); older entries have
  none and are sent as the installation's first admin's. ``outbox.attempted_at``: the watchdog restarts a queue
  whose pending entries have not been tried for a while.
- ``sync_shadow``: the last server version of each synced row, the base of this workstation's next change to it.
- ``sync_watermark``: how far each table has been pulled.
- ``sync_inbox``: changes the server rejected or found in conflict, with both sides, until someone deals with them.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("actor_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("attempted_at", sa.String(length=32), nullable=True))
    op.create_table(
        "sync_shadow",
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("server_updated_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "row_id", name=op.f("pk_sync_shadow")),
    )
    op.create_table(
        "sync_watermark",
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.Column("seen_ids", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_sync_watermark")),
    )
    op.create_table(
        "sync_inbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("outbox_id", sa.String(length=32), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("mine", sa.Text(), nullable=False),
        sa.Column("server", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("resolved_at", sa.String(length=32), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_inbox")),
    )
    op.create_index(op.f("ix_sync_inbox_outbox_id"), "sync_inbox", ["outbox_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sync_inbox_outbox_id"), table_name="sync_inbox")
    op.drop_table("sync_inbox")
    op.drop_table("sync_watermark")
    op.drop_table("sync_shadow")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("attempted_at")
        batch.drop_column("actor_id")
