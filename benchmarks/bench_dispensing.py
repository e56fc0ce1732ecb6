"""Dispensing one Schedule 2 item in full: scan check, dispensing, line, item, status, CD register, audit, outbox.

    python -m benchmarks.bench_dispensing

Runs on a file database in a temporary folder (WAL, synchronous=FULL: every commit is flushed to disk) and the
bundled demo catalogue. Setup signs one single-item prescription per patient (without the argon2 PIN check, which
is not part of dispensing) and books a large receipt into the register, so no supply needs an override. Each
measured call is the whole ``dispense_items`` service call the counter makes, on a fresh prescription.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.clinical_setup import BenchClinic, make_bench_clinic
from benchmarks.common import describe_machine, percentile, summary
from core.dispensing.cd_register import record_receipt
from core.dispensing.model import SupplyLine
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.queries import get_prescription
from core.prescriptions.signing import sign_verified

ROUNDS = 400
WARM_UP = 30
QUANTITY = 28


def schedule_2_with_barcode(catalogue: Catalogue) -> tuple[str, str, str]:
    """A usable Schedule 2 VMP with a current pack barcode: (VMP id, VMP name, GTIN)."""
    row = catalogue.conn.execute(
        "SELECT v.vpid, v.nm, g.gtin FROM vmp v JOIN control_info c USING (vpid) JOIN dform USING (vpid) "
        "JOIN amp a ON a.vpid = v.vpid JOIN ampp ap ON ap.apid = a.apid JOIN gtin g ON g.amppid = ap.appid "
        "WHERE v.invalid IS NULL AND v.non_availcd IS NULL AND c.catcd IN ('0002', '0003') AND g.enddt IS NULL "
        "AND EXISTS (SELECT 1 FROM vpi WHERE vpi.vpid = v.vpid AND vpi.strnt_nmrtr_val IS NOT NULL) "
        "ORDER BY v.vpid, g.gtin LIMIT 1"
    ).fetchone()
    return str(row[0]), str(row[1]), str(row[2])


def signed_prescriptions(clinic: BenchClinic, vmp: str, count: int) -> list[tuple[str, str]]:
    """(prescription id, item id) of ``count`` signed prescriptions, one per patient."""
    out = []
    for patient_id in clinic.patient_ids[:count]:
        rx = create_prescription(clinic.prescriber, patient_id)
        add_item(
            clinic.prescriber, clinic.catalogue, rx.id, vmp,
            dose="10mg every 12 hours", directions="Take one tablet every 12 hours", quantity=QUANTITY, days_supply=14,
        )  # fmt: skip
        sign_verified(clinic.prescriber, clinic.catalogue, rx.id, {})
        with clinic.prescriber.database.reader() as session:
            out.append((rx.id, get_prescription(session, rx.id).items[0].id))
    return out


def main() -> None:
    print(f"machine: {describe_machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        clinic = make_bench_clinic(Path(tmp), patients=ROUNDS + WARM_UP)
        vmp, name, gtin = schedule_2_with_barcode(clinic.catalogue)
        print(f"setup: signing {ROUNDS + WARM_UP} prescriptions of {name}…", flush=True)
        prescriptions = signed_prescriptions(clinic, vmp, ROUNDS + WARM_UP)
        record_receipt(clinic.pharmacist, vmp, name, QUANTITY * (ROUNDS + WARM_UP), "Bench Wholesale, Leeds")
        samples_ms = []
        for round_number, (rx_id, item_id) in enumerate(prescriptions):
            start = time.perf_counter()
            result = dispense_items(clinic.pharmacist, clinic.catalogue, rx_id, [SupplyLine(item_id, QUANTITY, gtin)])
            elapsed = (time.perf_counter() - start) * 1000
            assert result.prescription_status == "dispensed" and len(result.cd_register_entry_ids) == 1
            if round_number >= WARM_UP:
                samples_ms.append(elapsed)
        clinic.close()
    print(f"dispense_items, 1 Schedule 2 item with its CD register entry: {summary(samples_ms, 'dispensings')}")
    print(f"  max {max(samples_ms):.3f} ms")
    print(f"  target p95 <= 5 ms: {'met' if percentile(samples_ms, 95) <= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
