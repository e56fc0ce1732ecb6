"""Signing a 3-item prescription locally: the rules, status, items, token debit, audit events and outbox rows.

    python -m benchmarks.bench_signing

Runs on a file database in a temporary folder (WAL, synchronous=FULL: every commit is flushed to disk) and the
bundled demo catalogue. Each signing is of a fresh draft for its own patient, with one plain item, one Schedule 2
and one Schedule 4 item. Two figures: the signing transaction (what the target is about), and the whole
``sign_prescription`` call, which also checks the prescriber's PIN with argon2 (tens of ms by design).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.clinical_setup import BenchClinic, make_bench_clinic
from benchmarks.common import describe_machine, percentile, summary
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.signing import sign_prescription, sign_verified

ROUNDS = 400
WARM_UP = 20
PIN_ROUNDS = 40


def _draft(clinic: BenchClinic, patient_id: str) -> str:
    rx = create_prescription(clinic.prescriber, patient_id)
    for vmp, dose in zip(
        clinic.vmps, ("1 tablet twice daily", "10mg every 12 hours", "1 tablet at night"), strict=True
    ):
        add_item(
            clinic.prescriber, clinic.catalogue, rx.id, vmp, dose=dose, directions=dose, quantity=28, days_supply=14
        )
    return rx.id


def main() -> None:
    print(f"machine: {describe_machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        clinic = make_bench_clinic(Path(tmp), patients=ROUNDS + WARM_UP + PIN_ROUNDS)
        patients = iter(clinic.patient_ids)
        transaction_ms = []
        for round_number in range(WARM_UP + ROUNDS):
            rx_id = _draft(clinic, next(patients))
            start = time.perf_counter()
            sign_verified(clinic.prescriber, clinic.catalogue, rx_id, {})
            if round_number >= WARM_UP:
                transaction_ms.append((time.perf_counter() - start) * 1000)
        with_pin_ms = []
        for _ in range(PIN_ROUNDS):
            rx_id = _draft(clinic, next(patients))
            start = time.perf_counter()
            sign_prescription(clinic.prescriber, clinic.catalogue, rx_id, clinic.pin)
            with_pin_ms.append((time.perf_counter() - start) * 1000)
        clinic.close()
    print(f"signing transaction (3 items, debit, audit, outbox): {summary(transaction_ms, 'signings')}")
    print(f"  target p95 <= 5 ms: {'met' if percentile(transaction_ms, 95) <= 5 else 'NOT met'}")
    print(f"sign_prescription with the argon2 PIN check: {summary(with_pin_ms, 'signings')}")


if __name__ == "__main__":
    main()
