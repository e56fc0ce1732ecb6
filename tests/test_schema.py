"""The table-driven description of the release itself."""

from __future__ import annotations

from core.dmd.schema import RECORD_TYPES, FieldKind


def test_field_kinds_are_distinct_members() -> None:
    # Enum members with equal values silently become aliases: every kind must stay itself.
    assert len(FieldKind.__members__) == len(list(FieldKind))
    assert FieldKind["INT"] is FieldKind.INT and FieldKind["FLAG"] is FieldKind.FLAG


def test_every_record_type_has_a_required_id_first() -> None:
    for rt in RECORD_TYPES:
        first = rt.fields[0]
        assert first.kind in (FieldKind.ID, FieldKind.CODE), rt.table
        assert first.required, rt.table
