"""The CD register as read on screen (core.dispensing.register_view): names, counterparties, corrections."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.dispensing.cd_register import record_correction, record_receipt
from core.dispensing.model import SupplyLine
from core.dispensing.register_view import register_lines
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.errors import PermissionDenied
from tests.clinic import Clinic
from tests.test_cd_register import SUPPLIER, vmp_name
from tests.test_dispensing import SCHEDULE_2, ready, sign, vmp_with_schedule


def test_register_lines_say_who_and_what(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    patient = ready(clinic)
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    receipt = record_receipt(clinic.pharmacist, vmp, vmp_name(demo_catalogue, vmp), 100, SUPPLIER)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp])
    result = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    record_correction(clinic.pharmacist, receipt.id, -4, "Four broken in transit")

    received, supplied, corrected = register_lines(clinic.pharmacist, vmp)
    assert (received.kind, received.counterparty, received.quantity, received.balance) == (
        "receipt", SUPPLIER, Decimal(100), Decimal(100),
    )  # fmt: skip
    assert received.entered_by == "Priya Patel" and received.prescriber is None and received.corrects_seq is None
    assert supplied.counterparty == "Alice Jones, 3 Park Row\nLeeds\nLS1 5AB"
    assert supplied.prescriber == "Dr Jane Smith, 1234567" and supplied.balance == Decimal(72)
    assert supplied.reference == f"Rx {result.dispensing_id[-8:]}"
    assert (corrected.corrects_seq, corrected.reference, corrected.balance) == (1, "Four broken in transit", 68)
    assert corrected.recorded_at.utcoffset() is not None and corrected.recorded_at.tzname() == "GMT"  # UK time
    with pytest.raises(PermissionDenied):
        register_lines(clinic.technician, vmp)
