"""Audit events by entity: the trail of one prescription or patient is read without scanning the whole log.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_event_entity", "audit_event", ["entity_type", "entity_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_entity", table_name="audit_event")
