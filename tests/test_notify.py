"""The notify function end to end: a clinic workstation syncs through the Appwrite stand-in, whose row events run the
real backend/functions/notify code, which emails through a SendGrid stand-in and texts through a Twilio stand-in
(real HTTP on 127.0.0.1). Each event is told once per channel, with the patient's consent only, retried on 5xx and
by the scheduled run, and nothing personal reaches the function's logs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.dispensing.model import SupplyLine
from core.dispensing.owings import mark_owing_ready
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.patients.records import PatientDetails, create_patient
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.queries import get_prescription
from core.prescriptions.signing import sign_prescription
from core.tokens.ledger import create_account
from sync.server_config import DATABASE_ID
from tests.backend_functions import load_function
from tests.clinic import PRESCRIBER_PIN, Clinic, copy_clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.messaging import SendGridStandin, TwilioStandin
from tests.prescribing_helpers import vmp_with_schedule
from tests.sync_world import Device, SyncWorld, world

MOBILE, MOBILE_E164 = "07700 900123", "+447700900123"
EMAIL = "alice.jones@example.org"
NHS_NUMBER = "9434765919"
SIGNED = "Riverside Surgery: your prescription has been signed and will be ready at your pharmacy."
DISPENSED = "Kirkgate Pharmacy: your prescription has been dispensed."
OWING_READY = "Kirkgate Pharmacy: the rest of your prescription is ready to collect."


@dataclass
class Notify:
    world: SyncWorld
    clinic: Clinic
    device: Device
    sendgrid: SendGridStandin
    twilio: TwilioStandin
    catalogue: Catalogue

    @property
    def server(self) -> AppwriteStandin:
        return self.world.server

    def sync(self) -> None:
        """The workstation syncs; then every execution its changes set off has ended."""
        self.device.sync()
        self.server.wait_for_executions()

    def patient(self, given: str = "Alice", **changes: Any) -> str:
        values: dict[str, Any] = {
            "nhs_number": NHS_NUMBER, "phone": MOBILE, "email": EMAIL, "notify_by": "both", "consent": True,
            "address": "3 Park Row\nLeeds", "postcode": "LS1 5AB",
        }  # fmt: skip
        values.update(changes)
        return create_patient(self.clinic.prescriber, PatientDetails(given, "Jones", date(1970, 5, 17), **values)).id

    def signed(self, patient_id: str, quantity: int = 28) -> str:
        rx = create_prescription(self.clinic.prescriber, patient_id)
        add_item(self.clinic.prescriber, self.catalogue, rx.id, vmp_with_schedule(self.catalogue, None),
                 dose="1 at night", directions="One at night", quantity=quantity, days_supply=28)  # fmt: skip
        sign_prescription(self.clinic.prescriber, self.catalogue, rx.id, PRESCRIBER_PIN)
        return rx.id

    def notifications(self, row_id: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """The notification rows (of one prescription or owing), by (event, channel)."""
        return {
            (n["event"], n["channel"]): n
            for n in self.server.rows(DATABASE_ID, "notification")
            if row_id is None or n["row_id"] == row_id
        }

    def logs(self) -> str:
        runs = self.server.executions("notify")
        assert runs and all(r.status == "completed" for r in runs), [(r.status, r.errors) for r in runs]
        return "\n".join(r.logs + r.errors + r.response_body for r in runs)


@pytest.fixture
def notify(
    appwrite_server: Callable[..., AppwriteStandin],
    memory_keyring: MemoryKeyring,
    clinic_template: Clinic,
    demo_catalogue: Catalogue,
    tmp_path: Path,
) -> Iterator[Notify]:
    sync_world = world(appwrite_server(), tmp_path)
    (tmp_path / "clinic").mkdir()
    clinic = copy_clinic(clinic_template, tmp_path / "clinic" / "rxdesk.sqlite")
    device = sync_world.device("clinic-ws", clinic.database, clinic.clock)
    with SendGridStandin("SG.test-key") as sendgrid, TwilioStandin("AC" + "1" * 32, "twilio-token") as twilio:
        sync_world.server.set_function_variables(
            "notify",
            {
                "SENDGRID_API_KEY": "SG.test-key",
                "SENDGRID_FROM": "prescriptions@example.org",
                "SENDGRID_BASE_URL": sendgrid.url,
                "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                "TWILIO_AUTH_TOKEN": "twilio-token",
                "TWILIO_FROM": "+447700900999",
                "TWILIO_BASE_URL": twilio.url,
                "NOTIFY_BACKOFF_SECONDS": "0.01",
                "NOTIFY_TIMEOUT_SECONDS": "0.5",
            },
        )
        account = create_account(clinic.admin, "organisation", clinic.clinic.id)
        device.sync()
        sync_world.credit_on_server(account.id, 500, f"credit{account.id[-20:]}")
        device.sync()
        yield Notify(sync_world, clinic, device, sendgrid, twilio, demo_catalogue)  # type: ignore[arg-type]


def test_signed_owing_ready_and_dispensed_each_told_once_by_email_and_text(notify: Notify) -> None:
    rx_id = notify.signed(notify.patient())
    notify.sync()
    assert notify.twilio.sent == [{"to": MOBILE_E164, "from": "+447700900999", "body": SIGNED}]
    [mail] = notify.sendgrid.sent
    assert mail["to"] == EMAIL and mail["subject"] == "Your prescription has been signed"
    assert mail["text"].startswith(SIGNED) and mail["from"] == {"email": "prescriptions@example.org",
                                                                  "name": "Riverside Surgery"}  # fmt: skip

    # Part supplied: nothing to tell (the rest is owed). Then the stock arrives and the owing is marked ready.
    with notify.clinic.database.reader() as session:
        item = get_prescription(session, rx_id).items[0]
    result = dispense_items(notify.clinic.pharmacist, notify.catalogue, rx_id, [SupplyLine(item.id, 20)])
    notify.sync()
    assert len(notify.twilio.sent) == 1 and len(notify.sendgrid.sent) == 1
    [owing] = result.owings
    mark_owing_ready(notify.clinic.pharmacist, owing.owing_id)
    notify.sync()
    assert notify.twilio.sent[-1]["body"] == OWING_READY
    assert notify.sendgrid.sent[-1]["subject"] == "The rest of your prescription is ready"
    assert notify.sendgrid.sent[-1]["text"].startswith(OWING_READY)

    dispense_items(notify.clinic.pharmacist, notify.catalogue, rx_id, [SupplyLine(item.id, 8)])
    notify.sync()
    assert [m["body"] for m in notify.twilio.sent] == [SIGNED, OWING_READY, DISPENSED]
    assert [m["text"].split("\n")[0] for m in notify.sendgrid.sent] == [SIGNED, OWING_READY, DISPENSED]

    rows = notify.notifications()
    assert set(rows) == {(e, c) for e in ("signed", "dispensed", "owing_ready") for c in ("email", "sms")}
    for row in rows.values():
        assert (row["status"], row["attempts"], row["reason"]) == ("sent", 1, None) and row["provider_id"]
        assert row["provider_status"] == (202 if row["channel"] == "email" else 201)
    assert rows[("owing_ready", "sms")]["row_id"] == owing.owing_id and rows[("signed", "sms")]["row_id"] == rx_id
    assert {row["$id"] for row in rows.values()} == {  # derived from (row, event, channel): the same every time
        _id(rx_id, "signed", "email"), _id(rx_id, "signed", "sms"), _id(rx_id, "dispensed", "email"),
        _id(rx_id, "dispensed", "sms"), _id(owing.owing_id, "owing_ready", "email"),
        _id(owing.owing_id, "owing_ready", "sms"),
    }  # fmt: skip

    # The same event delivered again (Appwrite retried, a replay, a second update of the same status): told once.
    [prescription] = [r for r in notify.server.rows(DATABASE_ID, "prescription") if r["$id"] == rx_id]
    notify.server.raise_row_event(DATABASE_ID, "prescription", prescription, "update")
    [owing_row] = [r for r in notify.server.rows(DATABASE_ID, "owing") if r["$id"] == owing.owing_id]
    notify.server.raise_row_event(DATABASE_ID, "owing", {**owing_row, "status": "ready"}, "update")
    notify.server.wait_for_executions()
    assert len(notify.twilio.requests) == 3 and len(notify.sendgrid.requests) == 3
    assert notify.notifications() == rows
    assert '"email":"duplicate","sms":"duplicate"' in notify.server.executions("notify")[-1].response_body

    _assert_nothing_personal(notify.logs(), given="Alice")


def test_without_consent_nothing_is_sent_and_an_invalid_number_is_not_texted(notify: Notify) -> None:
    refused = notify.signed(notify.patient("Bryn", nhs_number=None, consent=False))
    # A number that is no mobile (as an older workstation could have sent it) is never texted; the email still goes.
    landline = notify.patient("Cerys", nhs_number=None, email="cerys@example.org")
    notify.device.sync()
    notify.world.tables().update_row(DATABASE_ID, "patient", landline, {"phone": "01134960111"})
    texted = notify.signed(landline)
    notify.sync()

    skipped = notify.notifications(refused)
    assert {k: (v["status"], v["reason"], v["attempts"]) for k, v in skipped.items()} == {
        ("signed", "email"): ("skipped", "no_consent", 0),
        ("signed", "sms"): ("skipped", "no_consent", 0),
    }
    rows = notify.notifications(texted)
    assert (rows[("signed", "sms")]["status"], rows[("signed", "sms")]["reason"]) == ("skipped", "invalid_phone")
    assert rows[("signed", "email")]["status"] == "sent"
    assert notify.twilio.requests == []
    assert [m["to"] for m in notify.sendgrid.sent] == ["cerys@example.org"]
    logs = notify.logs()
    for secret in ("Bryn", "Cerys", "cerys@example.org", "01134960111", "Jones"):
        assert secret not in logs


def test_failures_are_retried_within_the_run_then_by_the_schedule(notify: Notify) -> None:
    notify.twilio.fail(500, times=2)  # two 500s, then 201: sent within the run
    notify.sendgrid.fail(503, times=3, retry_after="0")  # down beyond the run's tries: failed, for the schedule
    rx_id = notify.signed(notify.patient())
    notify.sync()
    rows = notify.notifications(rx_id)
    sms, email = rows[("signed", "sms")], rows[("signed", "email")]
    assert (sms["status"], sms["attempts"], sms["provider_status"]) == ("sent", 3, 201)
    assert [r.status for r in notify.twilio.requests] == [500, 500, 201] and len(notify.twilio.sent) == 1
    assert (email["status"], email["attempts"], email["provider_status"]) == ("failed", 3, 503)
    assert email["reason"] == "provider answered 503" and notify.sendgrid.sent == []

    run = notify.server.run_schedule("notify")
    assert run.status == "completed" and run.trigger == "schedule"
    email = notify.notifications(rx_id)[("signed", "email")]
    assert (email["status"], email["attempts"], email["provider_status"]) == ("sent", 4, 202)
    assert [m["text"].split("\n")[0] for m in notify.sendgrid.sent] == [SIGNED]
    notify.server.run_schedule("notify")  # nothing left to send
    assert len(notify.sendgrid.requests) == 4 and len(notify.twilio.requests) == 3

    # No answer in time, then too many requests (Retry-After honoured): sent on the third try.
    notify.twilio.hang(1.5)
    notify.twilio.fail(429, retry_after="0")
    second = notify.signed(notify.patient("Dilys", nhs_number=None))
    notify.sync()
    sms = notify.notifications(second)[("signed", "sms")]
    assert (sms["status"], sms["attempts"], sms["provider_status"]) == ("sent", 3, 201)
    assert [r.status for r in notify.twilio.requests[-3:]] == [0, 429, 201]

    # A message the provider refuses (4xx) is recorded as rejected and not tried again.
    notify.twilio.fail(400)
    third = notify.signed(notify.patient("Eluned", nhs_number=None))
    notify.sync()
    sms = notify.notifications(third)[("signed", "sms")]
    assert (sms["status"], sms["attempts"], sms["provider_status"]) == ("rejected", 1, 400)
    notify.server.run_schedule("notify")
    assert len(notify.twilio.requests) == 7
    _assert_nothing_personal(notify.logs(), given="Alice")
    assert "Dilys" not in notify.logs() and "Eluned" not in notify.logs()


def _id(row_id: str, event: str, channel: str) -> str:
    return str(load_function("notify").notification_id(row_id, event, channel))


def test_the_templates_say_only_what_the_patient_needs() -> None:
    notify = load_function("notify")
    assert set(notify.TEMPLATES) == set(notify.TRIGGERS.values())
    names = {"clinic": "C" * 60, "pharmacy": "P" * 60}  # long organisation names
    for template in notify.TEMPLATES.values():
        text = template["text"].format(**names)
        assert len(text) <= 160 and "your prescription" in text  # one SMS; nothing about what was prescribed
    assert notify.notification_id("a" * 32, "signed", "sms") != notify.notification_id("a" * 32, "signed", "email")
    assert len(notify.notification_id("a" * 36, "owing_ready", "email")) == 36  # an Appwrite id


def _assert_nothing_personal(logs: str, given: str) -> None:
    assert "notify: prescription" in logs  # the logs say what happened ...
    for secret in (given, "Jones", EMAIL, MOBILE, MOBILE.replace(" ", ""), MOBILE_E164, NHS_NUMBER, "943 476 5919",
                   "3 Park Row", "LS1 5AB", "1970-05-17"):  # fmt: skip
        assert secret not in logs, secret  # ... and nothing of whom
