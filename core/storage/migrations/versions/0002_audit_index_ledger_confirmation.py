"""Audit events by entity, and ledger entries the server can confirm.

- The trail of one prescription or patient is read through an index instead of scanning the whole log.
- A ledger entry stays append-only in what it says (amount, account, kind...), but sync must be able to mark it
  confirmed by the server: the update trigger now guards the content columns only. The pending total (what the
  server has not confirmed) is read from an index, however long the ledger grows.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_CONTENT = "id, account_id, kind, amount, description, prescription_id, corrects_id, created_by, created_at"


def upgrade() -> None:
    op.create_index("ix_audit_event_entity", "audit_event", ["entity_type", "entity_id", "seq"])
    op.create_index("ix_ledger_pending", "ledger_entry", ["account_id", "confirmed", "amount"])
    op.execute("DROP TRIGGER ledger_entry_no_update")
    op.execute(
        f"CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE OF {LEDGER_CONTENT} ON ledger_entry "
        "BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only'); END"
    )


def downgrade() -> None:
    op.drop_index("ix_audit_event_entity", table_name="audit_event")
    op.drop_index("ix_ledger_pending", table_name="ledger_entry")
    op.execute("DROP TRIGGER ledger_entry_no_update")
    op.execute(
        "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry "
        "BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only'); END"
    )
