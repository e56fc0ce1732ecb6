"""Two workstations of one organisation through the Appwrite stand-in, driven by the official SDK: a prescription
signed at the clinic reaches the pharmacy's queue, its dispensing flows back, the token balance agrees."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.dispensing.model import SupplyLine
from core.dispensing.queries import dispensing_queue
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.patients.records import PatientDetails, create_patient, update_patient
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.queries import get_prescription
from core.prescriptions.signing import sign_prescription
from core.tokens.balance import prescriber_balance
from core.tokens.ledger import create_account
from core.users.directory import reset_secrets
from sync.inbox import open_items, restore
from tests.clinic import PASSWORD, PRESCRIBER_PIN, Clinic, make_clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.prescribing_helpers import vmp_with_schedule
from tests.sync_world import Device, SyncWorld, world


@pytest.fixture
def sync_world(
    appwrite_server: Callable[..., AppwriteStandin], memory_keyring: MemoryKeyring, tmp_path: Path
) -> SyncWorld:
    return world(appwrite_server(), tmp_path)


def _clinic_device(sync_world: SyncWorld, tmp_path: Path) -> tuple[Device, Clinic]:
    clinic = make_clinic(tmp_path / "clinic" / "rxdesk.sqlite")
    return sync_world.device("clinic-ws", clinic.database, clinic.clock), clinic


def _funded(sync_world: SyncWorld, device: Device, clinic: Clinic, tokens: int) -> str:
    """The clinic's token pool, credited on the server (as a payment would be) and taken by the workstation."""
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    device.sync()
    sync_world.credit_on_server(account.id, tokens, f"credit{account.id[-20:]}")
    device.sync()
    return account.id


def _patient(ctx: Any, given: str = "Alice") -> str:
    details = PatientDetails(given, "Jones", date(1970, 5, 17), nhs_number="9434765919", address="3 Park Row\nLeeds",
                             postcode="LS1 5AB", phone="0113 496 0111")  # fmt: skip
    return create_patient(ctx, details).id


def _signed(clinic: Clinic, catalogue: Catalogue, patient_id: str, quantity: int = 28) -> str:
    rx = create_prescription(clinic.prescriber, patient_id)
    vmp = vmp_with_schedule(catalogue, None)
    add_item(clinic.prescriber, catalogue, rx.id, vmp, dose="1 at night", directions="One at night",
             quantity=quantity, days_supply=28)  # fmt: skip
    sign_prescription(clinic.prescriber, catalogue, rx.id, PRESCRIBER_PIN)
    return rx.id


def test_signed_at_the_clinic_dispensed_at_the_pharmacy_and_back(
    sync_world: SyncWorld, tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    clinic_ws, clinic = _clinic_device(sync_world, tmp_path)
    _funded(sync_world, clinic_ws, clinic, 100)
    assert prescriber_balance(clinic.prescriber).confirmed == 100  # type: ignore[union-attr]
    rx_id = _signed(clinic, demo_catalogue, _patient(clinic.prescriber))
    report = clinic_ws.sync()
    assert report.pushed.get("applied", 0) > 0 and "rejected" not in report.pushed and "conflict" not in report.pushed
    assert clinic_ws.pending() == 0

    # A pharmacy workstation joins: its own admin, signed in to the organisation's server.
    pharmacy_ws = sync_world.device("pharmacy-ws")
    pharmacy_ws.sync()
    admin_here = pharmacy_ws.sign_in("pharmacy-ws-admin")
    users = {u["username"]: uid for uid, u in pharmacy_ws.rows("user_account").items()}
    reset_secrets(admin_here, users["pharm"], "pharmacist-pass-2", "1357")  # a password on this workstation
    pharmacist = pharmacy_ws.sign_in("pharm", "pharmacist-pass-2")
    queue = dispensing_queue(pharmacist)
    assert [rx.id for rx in queue] == [rx_id]
    [item] = queue[0].items
    dispense_items(pharmacist, demo_catalogue, rx_id, [SupplyLine(item.id, 28)])
    pharmacy_ws.sync()

    clinic_ws.sync()
    with clinic.database.reader() as session:
        rx = get_prescription(session, rx_id)
        assert rx.status == "dispensed" and rx.items[0].quantity_supplied == 28
    assert set(pharmacy_ws.rows("dispensing")) == set(clinic_ws.rows("dispensing")) and clinic_ws.rows("dispensing")
    balance_here = prescriber_balance(clinic.prescriber)
    assert balance_here is not None and balance_here.pending == 0
    pharmacy_ledger = pharmacy_ws.rows("ledger_entry")
    assert sum(e["amount"] for e in pharmacy_ledger.values()) == balance_here.confirmed < 100
    pharmacy_ws.sync()
    problems = sync_world.diverged()
    assert problems == []


def test_the_same_patient_field_changed_on_two_workstations_keeps_the_first_and_offers_the_other_back(
    sync_world: SyncWorld, tmp_path: Path
) -> None:
    clinic_ws, clinic = _clinic_device(sync_world, tmp_path)
    patient_id = _patient(clinic.prescriber)
    clinic_ws.sync()
    other = sync_world.device("reception-ws")
    other.sync()
    reception = other.sign_in("reception-ws-admin")

    def with_phone(phone: str, address: str | None = None) -> PatientDetails:
        return PatientDetails("Alice", "Jones", date(1970, 5, 17), nhs_number="9434765919",
                              address=address or "3 Park Row\nLeeds", postcode="LS1 5AB", phone=phone)  # fmt: skip

    update_patient(clinic.prescriber, patient_id, with_phone("0113 496 0222"))  # first to reach the server
    update_patient(reception, patient_id, with_phone("0113 496 0333", address="9 New Road\nLeeds"))
    clinic_ws.sync()
    report = other.sync()
    assert report.pushed == {"conflict": 1} or report.pushed.get("conflict") == 1
    [item] = open_items(reception)
    assert item.kind == "conflict" and item.restorable and "phone" in item.reason
    assert item.mine["phone"] == "01134960333"
    patient = other.rows("patient")[patient_id]
    assert patient["phone"] == "01134960222"  # the server's value, the first written, stands here too
    assert patient["address"] == "9 New Road\nLeeds"  # the field nobody else changed was taken
    clinic_ws.sync()
    assert sync_world.diverged() == []

    restore(reception, item.id)
    other.sync()
    clinic_ws.sync()
    assert clinic_ws.rows("patient")[patient_id]["phone"] == "01134960333"
    assert open_items(reception) == []
    assert sync_world.diverged() == []


def test_credits_come_from_the_server_not_from_a_workstation(sync_world: SyncWorld, tmp_path: Path) -> None:
    from core.errors import ValidationError
    from core.tokens.ledger import add_credit
    from sync.connection import read_server_settings, session_secret
    from sync.transport import Transport

    clinic_ws, clinic = _clinic_device(sync_world, tmp_path)
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    with pytest.raises(ValidationError, match="credited there"):
        add_credit(clinic.admin, account.id, 500, "Cash at the desk")
    clinic_ws.sync()
    # And were one sent anyway (an old workstation, a forged request), the gateway refuses it with the reason.
    settings = read_server_settings(clinic.database)
    assert settings is not None
    transport = Transport(settings, session_secret(settings) or "", "forger")
    credit = {"account_id": account.id, "kind": "credit", "amount": 500, "description": "Free tokens",
              "created_at": "2026-03-02T09:30:00.000000+00:00"}  # fmt: skip
    [answer] = transport.push([{"id": "forged0001", "table": "ledger_entry", "row": "forged0002", "op": "create",
                                "actor": clinic.admin.actor.user_id, "data": credit, "base": None}])  # fmt: skip
    assert answer.status == "rejected" and "credits come from payments" in answer.reason
    assert "forged0002" not in sync_world.server_rows("ledger_entry")
    assert PASSWORD  # nothing else of the clinic changed


def test_a_user_taken_from_the_server_is_told_to_ask_for_a_password_here(sync_world: SyncWorld, tmp_path: Path) -> None:
    from core.errors import SignInFailed

    clinic_ws, _clinic = _clinic_device(sync_world, tmp_path)
    clinic_ws.sync()
    pharmacy_ws = sync_world.device("pharmacy-ws")
    pharmacy_ws.sync()
    with pytest.raises(SignInFailed, match="Priya Patel has no password on this workstation yet"):
        pharmacy_ws.sign_in("pharm", PASSWORD)  # her password at the clinic never left it


def test_two_counters_supplying_one_controlled_drug_keep_one_register(
    sync_world: SyncWorld, tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    from core.dispensing.cd_register import record_receipt, register_entries, register_products
    from tests.test_dispensing import SCHEDULE_2

    clinic_ws, clinic = _clinic_device(sync_world, tmp_path)
    _funded(sync_world, clinic_ws, clinic, 500)
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    record_receipt(clinic.pharmacist, vmp, "Morphine", 100, "Alliance Healthcare, Leeds LS11 0ZZ")
    patient_id = _patient(clinic.prescriber)
    first = _signed_cd(clinic, demo_catalogue, patient_id, vmp)
    second = _signed_cd(clinic, demo_catalogue, patient_id, vmp)
    clinic_ws.sync()
    counter_two = sync_world.device("counter-two")
    counter_two.sync()
    reset_secrets(counter_two.sign_in("counter-two-admin"), clinic.pharmacist.actor.user_id, "second-counter-1", "1357")
    pharmacist_two = counter_two.sign_in("pharm", "second-counter-1")

    # Both counters supply at once, offline from each other: each writes "the next entry" of the same register.
    clinic.clock.advance(minutes=5)
    counter_two.clock.current = clinic.clock.current
    counter_two.clock.advance(minutes=1)
    dispense_items(clinic.pharmacist, demo_catalogue, first, [SupplyLine(_item(clinic, first), 10)])
    dispense_items(pharmacist_two, demo_catalogue, second, [SupplyLine(_item(clinic, second), 10)])
    for device in (clinic_ws, counter_two, clinic_ws):
        device.sync()
    registers = [register_entries(ctx, vmp) for ctx in (clinic.pharmacist, pharmacist_two)]
    as_read = [[(e.id, e.quantity, e.balance) for e in entries] for entries in registers]
    assert as_read[0] == as_read[1]  # the same register, in the same order, on both counters
    assert [balance for _id, _q, balance in as_read[0]] == [100, 90, 80]
    assert [p.balance for p in register_products(pharmacist_two)] == [80]
    assert sync_world.diverged() == []


def _signed_cd(clinic: Clinic, catalogue: Catalogue, patient_id: str, vmp: str) -> str:
    from tests.test_dispensing import sign

    return sign(clinic, catalogue, patient_id, [vmp], quantity=10).id


def _item(clinic: Clinic, rx_id: str) -> str:
    with clinic.database.reader() as session:
        return get_prescription(session, rx_id).items[0].id
