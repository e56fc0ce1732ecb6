"""Sync with the server: pushing a queue, a new workstation's first pull, a pharmacy catching up after a month offline.

    python -m benchmarks.bench_sync [--scale S]

Two workstations of one organisation (an Appwrite team) sync through the Appwrite stand-in
(tests/fakes/appwrite: a real HTTP server on 127.0.0.1 running the real ``sync-push`` gateway of
backend/functions), each driven by the real sync client, ``SyncEngine.sync_now()``: the official ``appwrite`` SDK
(on requests) and httpx (the health check) over loopback. Every change synced was made by the service functions
(``create_patient``, drafting and ``sign_verified``, ``dispense_items``), so the outbox holds exactly what a
workstation queues. The stand-in runs in this process, in threads: every figure includes the server's own work
(the gateway, its database calls) on the same interpreter and the same cores, so it is pessimistic for the
client, not a figure for a real server.

The world, at the issue's sizes (``--scale 1``):

1. Push. A clinic workstation (tests/clinic.py) registers 5,000 patients; each queues the patient and its audit
   event. The pending ops are counted in the outbox, then one ``sync_now()`` pushes them (called again only if it
   left some pending; the calls are counted). Afterwards none is pending and the server holds the patients and a
   ``sync_op`` record of each op. Target: 10,000 ops in ≤ 20 s.
2. Pull. The clinic signs 3,000 prescriptions of 3 items (distinct non-controlled medicines) for those patients and
   pushes them (setup). A pharmacy workstation, a fresh installation of the same organisation, joins: its first
   ``sync_now()`` pulls everything workstations share (audit events stay on the server): 5,000 patients,
   3,000 prescriptions, 9,000 items, 3,000 token debits and the organisation's users, about 20,000 rows; it must
   then hold what the server holds. Target: 10,000 rows in ≤ 10 s, judged on the rate.
3. A month offline. The pharmacy then goes offline for 30 days and dispenses 300 items a day, all 9,000 items of
   those 3,000 prescriptions (``dispense_items``, 100 prescriptions a day, its clock moved a day at a time), while
   the clinic signs 3,000 more prescriptions over the same 30 days and pushes them (setup). The catch-up is the
   pharmacy's ``sync_now()`` (again until nothing is pending): push every dispensing op, pull the clinic's new
   rows (and, as the pull does, its own rows back with the server's timestamps). Afterwards nothing is pending,
   the server holds every dispensing and the pharmacy every new prescription. Target: ≤ 60 s.

Signing skips the prescriber's argon2 PIN check (``sign_verified``, as bench_signing measures it): it writes
nothing, and 6,000 of them would add minutes of setup. The token pool is credited on the server, as the billing
function does (workstations may not write credits), and taken by the clinic before it signs.

By default every count is scaled by 0.05 (``--scale``) so that ``make bench`` stays within a minute: the push, the
pull and the catch-up are then measured on a twentieth of the work, and each target is judged on the measured
rate, projected linearly to the target's size (printed as "at that rate"). ``--scale 1`` runs the issue's sizes
themselves (about ten minutes, most of it setup); the README gives both. The stand-in keeps its tables in memory and
lists them by scanning (by key for ids), so its pages and transactions get slower as tables grow, and a projection
from a small world is optimistic for the stand-in: the full-size run is the figure to trust. The backend runs as
configured, ``notify`` too: the stand-in runs it on each prescription event, asynchronously, one such execution at
a time, in this process and on these cores (where Appwrite would run it apart). The stand-in's check of every
answer against the OpenAPI spec (a test's assertion, with jsonschema, over every row of every page) is off here.
Setup is not measured; its time is printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import keyring
from sqlalchemy import func, select

from benchmarks.common import describe_machine
from core.context import ServiceContext
from core.dispensing.model import SupplyLine
from core.dispensing.queries import dispensing_queue
from core.dispensing.supply import dispense_items
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.paths import demo_release
from core.patients.records import PatientDetails, create_patient
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.signing import sign_verified
from core.storage.models import Prescription
from core.tokens.ledger import create_account
from core.users.directory import reset_secrets
from sync.appwrite_api import install_timeouts
from sync.server_config import DATABASE_ID
from sync.tables import SYNC_TABLES
from tests.clinic import Clinic, make_clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import Device, SyncWorld, world

# The sizes (--scale 1).
PATIENTS = 5_000
RX_BEFORE = 3_000  # signed at the clinic and pulled by the pharmacy before it goes offline
RX_DURING = 3_000  # signed at the clinic during the pharmacy's month offline
ITEMS_PER_RX = 3
DAYS_OFFLINE = 30
DEFAULT_SCALE = 0.05
QUANTITY = 28
TOKENS = 10_000_000

PUSH_TARGET_OPS, PUSH_TARGET_S = 10_000, 20.0
PULL_TARGET_ROWS, PULL_TARGET_S = 10_000, 10.0
CATCH_UP_ITEMS, CATCH_UP_TARGET_S = RX_BEFORE * ITEMS_PER_RX, 60.0

GIVEN_NAMES = ("Alice", "Bilal", "Chloe", "Dmitri", "Esther", "Femi", "Grace", "Harpreet", "Ivan", "Jane")


@dataclass
class Drained:
    """What syncing until nothing was pending did."""

    seconds: float
    calls: int
    pushed: dict[str, int]
    merged: int
    held_back: int

    @property
    def sent(self) -> int:
        return sum(self.pushed.values())


def sync_until_drained(device: Device, max_calls: int = 5) -> Drained:
    """``sync_now()`` (through ``Device.sync``, which checks it ended up to date) until no op is pending, timed."""
    pushed: dict[str, int] = {}
    merged = held_back = calls = 0
    start = time.perf_counter()
    while True:
        report = device.sync()
        calls += 1
        for status, n in report.pushed.items():
            pushed[status] = pushed.get(status, 0) + n
        merged += report.pull.merged
        held_back += report.pull.held_back
        if device.pending() == 0:
            break
        if calls == max_calls:
            raise AssertionError(f"{device.name}: {device.pending()} ops still pending after {calls} syncs")
    seconds = time.perf_counter() - start
    refused = {status: n for status, n in pushed.items() if status not in ("applied", "duplicate")}
    assert not refused, f"{device.name}: the server did not apply every op: {pushed}"
    return Drained(seconds, calls, pushed, merged, held_back)


def held(device: Device) -> dict[str, int]:
    """Rows of each table that workstations pull, as this one holds them."""
    with device.database.reader() as session:
        return {
            t.name: int(session.execute(select(func.count()).select_from(t.model_table)).scalar_one())
            for t in SYNC_TABLES
            if t.pull
        }


def on_server(sync_world: SyncWorld, table: str) -> int:
    return len(sync_world.server.rows(DATABASE_ID, table))


def letters(n: int) -> str:
    """A family name from a number (names may not hold digits)."""
    out = ""
    for _ in range(4):
        n, digit = divmod(n, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[digit]
    return "Fam" + out


def register_patients(clinic: Clinic, count: int) -> list[str]:
    """Patients registered at the reception of the clinic, each through ``create_patient`` (patient + audit event)."""
    ids = []
    for n in range(count):
        details = PatientDetails(
            GIVEN_NAMES[n % len(GIVEN_NAMES)], letters(n), date(1940 + n % 60, 1 + n % 12, 1 + n % 28),
            address=f"{n + 1} Long Lane\nLeeds", postcode="LS6 2AB", phone="0113 496 0111",
        )  # fmt: skip
        ids.append(create_patient(clinic.prescriber, details).id)
    return ids


def medicines(catalogue: Catalogue) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Two sets of ``ITEMS_PER_RX`` usable non-controlled VMPs, no ingredient shared by any two of the six: a
    patient's second prescription is of the other set, so no signing warns of a duplicate ingredient."""
    rows = catalogue.conn.execute(
        "SELECT v.vpid, (SELECT group_concat(isid) FROM vpi WHERE vpi.vpid = v.vpid) FROM vmp v "
        "JOIN control_info c USING (vpid) JOIN dform USING (vpid) WHERE v.invalid IS NULL AND v.non_availcd IS NULL "
        "AND c.catcd = '0000' AND EXISTS (SELECT 1 FROM vpi WHERE vpi.vpid = v.vpid AND vpi.strnt_nmrtr_val IS NOT "
        "NULL) ORDER BY v.vpid"
    ).fetchall()
    chosen: list[str] = []
    used: set[str] = set()
    for vpid, ingredients in rows:
        these = set(str(ingredients).split(","))
        if not these & used:
            chosen.append(str(vpid))
            used |= these
        if len(chosen) == 2 * ITEMS_PER_RX:
            return tuple(chosen[:ITEMS_PER_RX]), tuple(chosen[ITEMS_PER_RX:])
    raise RuntimeError("the demo catalogue has too few distinct plain medicines")


def sign(clinic: Clinic, catalogue: Catalogue, patient_id: str, vmps: tuple[str, ...]) -> str:
    """A prescription drafted and signed by the clinic's prescriber (the PIN check skipped: it writes nothing)."""
    rx = create_prescription(clinic.prescriber, patient_id)
    for vmp in vmps:
        add_item(clinic.prescriber, catalogue, rx.id, vmp, dose="1 tablet daily", directions="Take one tablet daily",
                 quantity=QUANTITY, days_supply=QUANTITY)  # fmt: skip
    sign_verified(clinic.prescriber, catalogue, rx.id, {})
    return rx.id


def sign_many(clinic: Clinic, catalogue: Catalogue, patients: list[str], sets: tuple[tuple[str, ...], ...],
              first: int, count: int, days: int = 0) -> list[str]:  # fmt: skip
    """Prescriptions ``first`` to ``first + count`` of the clinic, each for the next patient in turn (a second one
    of a patient of the other medicines), over ``days`` days of the clinic's clock."""
    per_day = max(1, -(-count // days)) if days else count + 1
    ids = []
    for k in range(first, first + count):
        if days and k > first and (k - first) % per_day == 0:
            clinic.clock.advance(days=1)
        ids.append(sign(clinic, catalogue, patients[k % len(patients)], sets[(k // len(patients)) % len(sets)]))
    return ids


def dispense_all(device: Device, pharmacist: ServiceContext, catalogue: Catalogue, days: int) -> tuple[int, int]:
    """The pharmacy's counter works through its dispensing queue, every item in full, the same number of
    prescriptions each day; (prescriptions, items) dispensed."""
    with device.database.reader() as session:
        total = int(
            session.execute(
                select(func.count()).select_from(Prescription).where(Prescription.status == "signed")
            ).scalar_one()
        )
    per_day = max(1, -(-total // days))
    prescriptions = items = 0
    while queue := dispensing_queue(pharmacist):
        for rx in queue:
            if prescriptions and prescriptions % per_day == 0:
                device.clock.advance(days=1)
            dispense_items(pharmacist, catalogue, rx.id, [SupplyLine(item.id, QUANTITY) for item in rx.items])
            prescriptions += 1
            items += len(rx.items)
    assert prescriptions == total, f"dispensed {prescriptions} of {total} prescriptions"
    return prescriptions, items


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale", type=float, default=DEFAULT_SCALE, help=f"of the issue's sizes (default {DEFAULT_SCALE:g})"
    )
    scale = parser.parse_args().scale
    patients_n, before_n, during_n = (max(1, round(n * scale)) for n in (PATIENTS, RX_BEFORE, RX_DURING))
    print(f"machine: {describe_machine()}")
    print(
        f"scale {scale:g} of the issue's sizes: {patients_n:,} patients, {before_n:,} prescriptions of "
        f"{ITEMS_PER_RX} items pulled by the pharmacy, {before_n * ITEMS_PER_RX:,} items dispensed offline over "
        f"{DAYS_OFFLINE} days, {during_n:,} prescriptions signed at the clinic meanwhile",
        flush=True,
    )
    started = time.perf_counter()
    measured = 0.0
    previous_keyring = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())  # the workstations' server sessions, kept in memory
    install_timeouts(read_s=300)  # a batch of 100 ops on a busy machine may take longer than the usual 45 s
    server = AppwriteStandin(rate_limits=False, sync_timeout=300, check_responses=False).start()
    devices: list[Device] = []
    try:
        with tempfile.TemporaryDirectory(prefix="rxdesk-bench-sync-") as tmp:
            folder = Path(tmp)
            main_zip, bonus_zip = demo_release()
            build_replica(folder / "dmd.sqlite", main_zip, bonus_zip, parallel=False)
            with Catalogue(folder / "dmd.sqlite") as catalogue:
                riverside = world(server, folder)
                devices = riverside.devices
                clinic = make_clinic(folder / "clinic" / "rxdesk.sqlite")
                clinic_ws = riverside.device("clinic-ws", clinic.database, clinic.clock)
                pool = create_account(clinic.admin, "organisation", clinic.clinic.id)
                clinic_ws.sync()  # the installation's users, organisations and token account
                riverside.credit_on_server(pool.id, TOKENS, f"credit{pool.id[-20:]}")
                clinic_ws.sync()  # the credit, so the clinic may sign
                sets = medicines(catalogue)

                # 1. The clinic's queue of new patients, pushed.
                patients = register_patients(clinic, patients_n)
                queued = clinic_ws.pending()
                push = sync_until_drained(clinic_ws)
                measured += push.seconds
                assert push.sent == queued and clinic_ws.pending() == 0, (push.pushed, queued)
                assert on_server(riverside, "patient") >= patients_n
                assert on_server(riverside, "sync_op") >= queued
                print(f"setup: clinic signing {before_n:,} prescriptions…", flush=True)
                sign_many(clinic, catalogue, patients, sets, 0, before_n)
                clinic_queue = clinic_ws.pending()
                setup_push = sync_until_drained(clinic_ws)
                print(
                    f"setup: clinic pushed its {clinic_queue:,} signing ops in {setup_push.seconds:.1f} s "
                    f"({clinic_queue / setup_push.seconds:.1f} ops/s)",
                    flush=True,
                )

                # 2. A pharmacy workstation joins: its first sync takes everything shared.
                pharmacy_ws = riverside.device("pharmacy-ws")
                held_before = sum(held(pharmacy_ws).values())
                pull = sync_until_drained(pharmacy_ws)
                measured += pull.seconds
                now_held = held(pharmacy_ws)
                for table, count in now_held.items():
                    assert count >= on_server(riverside, table), f"pharmacy holds {count} {table} rows"
                taken = sum(now_held.values()) - held_before

                # 3. The pharmacy goes offline for a month and dispenses what it pulled; the clinic keeps signing.
                admin_here = pharmacy_ws.sign_in("pharmacy-ws-admin")
                users = {u["username"]: uid for uid, u in pharmacy_ws.rows("user_account").items()}
                reset_secrets(admin_here, users["pharm"], "pharmacist-pass-2", "1357")
                pharmacist = pharmacy_ws.sign_in("pharm", "pharmacist-pass-2")
                print(f"setup: pharmacy dispensing offline, clinic signing {during_n:,} more…", flush=True)
                dispensed_rx, dispensed_items = dispense_all(pharmacy_ws, pharmacist, catalogue, DAYS_OFFLINE)
                new_rx = sign_many(clinic, catalogue, patients, sets, before_n, during_n, DAYS_OFFLINE)
                sync_until_drained(clinic_ws)
                pharmacy_queue = pharmacy_ws.pending()
                held_before = sum(held(pharmacy_ws).values())
                catch_up = sync_until_drained(pharmacy_ws)
                measured += catch_up.seconds
                assert catch_up.sent == pharmacy_queue and pharmacy_ws.pending() == 0
                assert on_server(riverside, "dispensing") == dispensed_rx
                with pharmacy_ws.database.reader() as session:
                    arrived = session.execute(
                        select(func.count()).select_from(Prescription).where(Prescription.id.in_(new_rx))
                    ).scalar_one()
                assert arrived == len(new_rx), f"the pharmacy holds {arrived} of {len(new_rx)} new prescriptions"
                new_rows = sum(held(pharmacy_ws).values()) - held_before
            for device in devices:
                device.database.close()
            devices = []
    finally:
        for device in devices:
            device.database.close()
        server.close()
        keyring.set_keyring(previous_keyring)
    violations = server.violations
    total = time.perf_counter() - started

    rate = push.sent / push.seconds
    at_target = PUSH_TARGET_OPS / rate
    print(
        f"push: {push.sent:,} queued ops ({patients_n:,} patients and their audit events) in {push.calls} "
        f"sync_now() call(s): {push.seconds:.2f} s, {rate:,.1f} ops/s; {PUSH_TARGET_OPS:,} ops at that rate "
        f"{at_target:,.1f} s: target {PUSH_TARGET_OPS:,} ops <= {PUSH_TARGET_S:g} s "
        f"{verdict(at_target <= PUSH_TARGET_S)}"
    )
    rate = taken / pull.seconds
    at_target = PULL_TARGET_ROWS / rate
    print(
        f"pull: a new workstation's first sync took {taken:,} rows ({pull.merged:,} merged, {pull.held_back} held "
        f"back, {pull.calls} sync_now() call(s)): {pull.seconds:.2f} s, {rate:,.1f} rows/s; {PULL_TARGET_ROWS:,} rows "
        f"at that rate {at_target:,.1f} s: target {PULL_TARGET_ROWS:,} rows <= {PULL_TARGET_S:g} s "
        f"{verdict(at_target <= PULL_TARGET_S)}"
    )
    at_target = catch_up.seconds * CATCH_UP_ITEMS / dispensed_items
    print(
        f"catch-up: {dispensed_items:,} items dispensed offline over {DAYS_OFFLINE} days ({dispensed_rx:,} "
        f"prescriptions), then {catch_up.calls} sync_now() call(s): pushed {catch_up.sent:,} ops, pulled "
        f"{catch_up.merged:,} rows ({new_rows:,} new: the clinic's {len(new_rx):,} prescriptions), "
        f"{catch_up.seconds:.2f} s; {CATCH_UP_ITEMS:,} items at that rate {at_target:,.1f} s: target 30 days at "
        f"300 items a day <= {CATCH_UP_TARGET_S:g} s {verdict(at_target <= CATCH_UP_TARGET_S)}"
    )
    print(f"setup (not measured): {total - measured:.1f} s; whole run {total:.1f} s")
    if violations:
        print(f"the stand-in saw {len(violations)} requests or answers break Appwrite's contract, e.g. {violations[0]}")


if __name__ == "__main__":
    main()
