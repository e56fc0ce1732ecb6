"""How a patient wants to be told about their prescriptions, and their consent to it.

- ``patient.notify_by``: email, sms, both or none (NULL for patients registered before: none).
- ``patient.consent_at``, ``patient.consent_by``: when and by whom the patient's consent was recorded (NULL: no
  consent, so nothing is sent).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy: prescriptions and allergies refer to patient rows); SQLite takes the
    # reference inline since the new column's default is NULL.
    op.add_column("patient", sa.Column("notify_by", sa.String(length=8), nullable=True))
    op.add_column("patient", sa.Column("consent_at", sa.String(length=32), nullable=True))
    op.execute(
        "ALTER TABLE patient ADD COLUMN consent_by VARCHAR(32) "
        "CONSTRAINT fk_patient_consent_by_user_account REFERENCES user_account (id)"
    )


def downgrade() -> None:
    op.drop_column("patient", "consent_by")
    op.drop_column("patient", "consent_at")
    op.drop_column("patient", "notify_by")
