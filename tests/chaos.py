"""The seeded chaos harness: ``python -m tests.chaos --runs N --seed S``.

Each run builds a small world (the Appwrite stand-in with the real sync-push gateway, one team, two or three
workstations made as real installations: the clinic's, with its admin, prescriber and a pharmacist; a pharmacy's
joining later with its own admin, its pharmacist given a password there; sometimes a reception workstation), then
interleaves, at random, local work (patients registered and edited, the same field on two workstations too;
prescriptions signed; dispensed in full or in part, at either dispensing workstation; cancelled; credits written on
the server as the billing function does), syncs, and faults: the connection dropped before or after the server
commits, 401 (sessions revoked), an expired session, 429, 500 (of the gateway or mid-pull), a timeout while the
server still applies, duplicate delivery (the batch replayed as the client reads its answer), a server restart
(mid-sync, or between syncs) and the client killed at a step (an exception from ``on_step``, the engine thrown
away: SIGKILL in a real process is tests/test_sync_crash.py). Then the faults stop, every workstation signs in
again if it has to and syncs until a whole round sends nothing, and the run counts:

* lost: a committed local change missing on the server (a row a workstation holds that the server lacks, unless
  the server refused it and the inbox says so; or an op the workstation holds as answered that the server has no
  record of);
* duplicated: a change applied twice (repeated sync_op ids or ones no workstation made, an item's supplied
  quantity other than the sum of its dispensing lines, a prescription debited twice);
* stalled: ops still pending with the server reachable (or syncing that never settles);
* diverged: workstations disagreeing with the server (``SyncWorld.diverged``).

It prints one JSON line, ``{"runs": N, "lost": 0, "duplicated": 0, "stalled": 0, "diverged": 0}``, and for each
run that is not clean a line on stderr with its seed and what went wrong (``--run-seed`` replays one run alone).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import keyring
from sqlalchemy import func, select

from core.context import ServiceContext
from core.dispensing.model import SupplyLine
from core.dispensing.supply import dispense_items
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.errors import RxDeskError
from core.paths import demo_release
from core.patients.records import PatientDetails, create_patient, update_patient
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.lifecycle import cancel_prescription
from core.prescriptions.signing import sign_verified
from core.rules.model import Outcome, RulesNotSatisfied
from core.storage.database import open_database
from core.storage.models import Patient, Prescription, PrescriptionItem, SyncInboxItem, TokenAccount, User
from core.tokens.ledger import create_account
from core.users.directory import reset_secrets
from core.users.roles import Role
from core.users.service import NewUser, create_first_admin
from sync.appwrite_api import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, install_timeouts
from sync.connection import read_server_settings, session_secret
from sync.engine import SyncEngine, SyncState
from sync.server_config import DATABASE_ID
from tests.clinic import PASSWORD, Clinic, TestClock, copy_clinic, make_clinic
from tests.fakes.appwrite import AppwriteStandin, ManualClock
from tests.fakes.memory_keyring import MemoryKeyring
from tests.prescribing_helpers import vmp_with_schedule
from tests.sync_world import Device, SyncWorld, Tally, world

EXECUTIONS = r"/v1/functions/sync-push/executions"
PHARMACIST_PASSWORD = "pharmacist-pass-2"
FAULTS = (
    "drop_before",
    "drop_after",
    "revoke",
    "expire",
    "429",
    "500_gateway",
    "500_pull",
    "timeout",
    "replay",
    "restart_mid_sync",
    "restart_between",
    "kill",
)


class NothingToDo(Exception):
    """The local work chosen has nothing to work on yet (no patient, no open prescription)."""


class Killed(Exception):
    """The client process 'died' at a step of a sync (raised from on_step; the engine is thrown away)."""


@dataclass
class Fixtures:
    """What every run starts from, made once: a closed clinic installation to copy, and the demo catalogue."""

    template: Clinic
    catalogue: Catalogue
    product: str
    installations: dict[str, tuple[Path, ServiceContext]]  # a new installation's database and its first admin


@dataclass
class Run:
    rng: random.Random
    world: SyncWorld
    fixtures: Fixtures
    clinic: Clinic
    contexts: dict[str, list[ServiceContext]]  # device name -> who works there (by role, see _work)
    tmp: Path
    log: list[str] = field(default_factory=list)
    credits: int = 0

    @property
    def server(self) -> AppwriteStandin:
        return self.world.server


def installations(tmp: Path) -> dict[str, tuple[Path, ServiceContext]]:
    """New installations to copy (each with its first admin): a pharmacy's and a reception desk's."""
    made = {}
    for name in ("pharmacy-ws", "reception-ws"):
        database = open_database(tmp / name / "rxdesk.sqlite")
        admin = create_first_admin(database, NewUser(f"{name}-admin", f"Admin of {name}", Role.ADMIN, PASSWORD), name)
        database.close()
        made[name] = (database.path, admin)
    return made


@contextmanager
def _fixtures(tmp: Path) -> Iterator[Fixtures]:
    (tmp / "template").mkdir()
    template = make_clinic(tmp / "template" / "rxdesk.sqlite")
    template.database.close()
    main, bonus = demo_release()
    target = tmp / "demo" / "dmd.sqlite"
    build_replica(target, main, bonus, parallel=False)
    with Catalogue(target) as catalogue:
        yield Fixtures(template, catalogue, vmp_with_schedule(catalogue, None), installations(tmp))


def _installation(run: Run, name: str) -> tuple[Device, ServiceContext]:
    """A workstation installed afresh (its own first admin), signed in to the organisation's server."""
    path, admin = run.fixtures.installations[name]
    (run.tmp / name).mkdir(parents=True)
    shutil.copyfile(path, run.tmp / name / "rxdesk.sqlite")
    database = open_database(run.tmp / name / "rxdesk.sqlite")
    clock = TestClock(run.clinic.clock())
    device = run.world.device(name, database, clock)
    return device, replace(admin, database=database, clock=clock)


def _name(rng: random.Random) -> str:
    return rng.choice(["Ann", "Bea", "Cal", "Dee", "Eve", "Fay"]) + rng.choice(["ley", "ton", "ford", "wood"])


def _build(rng: random.Random, fixtures: Fixtures, tmp: Path) -> Run:
    # The server's own clock, moved by each step: writes a few milliseconds or many seconds apart (the pull's
    # 5 s overlap then does not cover a missed row), and many in the same millisecond (ties in $updatedAt).
    server = AppwriteStandin(rate_limits=False, clock=ManualClock()).start()
    sync_world = world(server, tmp)
    (tmp / "clinic").mkdir(parents=True)
    clinic = copy_clinic(fixtures.template, tmp / "clinic" / "rxdesk.sqlite")
    clinic_ws = sync_world.device("clinic-ws", clinic.database, clinic.clock)
    account = create_account(clinic.admin, "organisation", clinic.clinic.id, overdraft_limit=100_000)
    run = Run(rng, sync_world, fixtures, clinic, {}, tmp)
    for _ in range(rng.randint(1, 3)):
        _register(run, clinic.prescriber)
    _sign(run)
    clinic_ws.sync()
    sync_world.credit_on_server(account.id, 500, f"credit{account.id[-20:]}")
    pharmacy_ws, admin_here = _installation(run, "pharmacy-ws")
    pharmacy_ws.sync()
    with pharmacy_ws.database.reader() as session:
        pharm = session.execute(select(User.id).where(User.username == "pharm")).scalar_one()
    reset_secrets(admin_here, pharm, PHARMACIST_PASSWORD, None)
    run.contexts = {
        "clinic-ws": [clinic.prescriber, clinic.pharmacist, clinic.admin],
        "pharmacy-ws": [pharmacy_ws.sign_in("pharm", PHARMACIST_PASSWORD), admin_here],
    }
    if rng.random() < 0.35:
        reception, admin = _installation(run, "reception-ws")
        reception.sync()
        run.contexts["reception-ws"] = [admin]
    run.log.append(f"devices {[d.name for d in sync_world.devices]}")
    return run


# -- local work ------------------------------------------------------------------------------------------------


def _register(run: Run, ctx: ServiceContext) -> None:
    dob = date(1940 + run.rng.randrange(60), run.rng.randint(1, 12), run.rng.randint(1, 28))
    create_patient(ctx, PatientDetails(_name(run.rng), "Jones", dob), confirm_possible_duplicate=True)


def _patients(device: Device) -> list[Patient]:
    with device.database.reader() as session:
        return list(session.execute(select(Patient).order_by(Patient.id)).scalars())


def _edit(run: Run, device: Device, ctx: ServiceContext) -> None:
    patients = _patients(device)
    if not patients:
        raise NothingToDo
    patient = run.rng.choice(patients)
    details = PatientDetails.of(patient)
    if run.rng.random() < 0.6:
        details = replace(details, phone=run.rng.choice(["0113 496 0111", "0113 496 0222", "0113 496 0333"]))
    else:
        details = replace(details, address=run.rng.choice(["1 Low Road\nLeeds", "2 Mill Lane\nLeeds", "9 Park Row"]))
    update_patient(ctx, patient.id, details, confirm_possible_duplicate=True)


def _sign(run: Run) -> None:
    patients = _patients(run.world.devices[0])
    if not patients:
        raise NothingToDo
    prescriber, catalogue = run.clinic.prescriber, run.fixtures.catalogue
    rx = create_prescription(prescriber, run.rng.choice(patients).id)
    for _ in range(run.rng.choice([1, 1, 2])):
        add_item(prescriber, catalogue, rx.id, run.fixtures.product, dose="1 at night", directions="One at night",
                 quantity=run.rng.choice([14, 28, 56]), days_supply=28)  # fmt: skip
    try:
        sign_verified(prescriber, catalogue, rx.id, {})
    except RulesNotSatisfied as refused:  # warnings (the same medicine twice): the prescriber gives a reason
        if any(r.outcome is Outcome.BLOCK for r in refused.results):
            raise
        sign_verified(prescriber, catalogue, rx.id, {r.key: "Reviewed with the patient today" for r in refused.results})


def _open_items(device: Device) -> list[PrescriptionItem]:
    with device.database.reader() as session:
        return list(
            session.execute(
                select(PrescriptionItem)
                .join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
                .where(Prescription.status.in_(["signed", "partially dispensed"]))
                .where(PrescriptionItem.quantity_supplied < PrescriptionItem.quantity)
                .order_by(PrescriptionItem.id)
            ).scalars()
        )


def _dispense(run: Run, device: Device, ctx: ServiceContext) -> None:
    items = _open_items(device)
    if not items:
        raise NothingToDo
    item = run.rng.choice(items)
    left = Decimal(item.quantity) - Decimal(item.quantity_supplied)
    quantity = left if run.rng.random() < 0.6 or left < 2 else (left // 2)
    dispense_items(ctx, run.fixtures.catalogue, item.prescription_id, [SupplyLine(item.id, quantity)])


def _cancel(run: Run) -> None:
    items = _open_items(run.world.devices[0])
    if not items:
        raise NothingToDo
    cancel_prescription(run.clinic.prescriber, run.rng.choice(items).prescription_id, "Treatment changed today")


def _credit(run: Run) -> None:
    with run.world.devices[0].database.reader() as session:
        account = session.execute(select(TokenAccount.id)).scalars().first()
    if account is None:
        raise NothingToDo
    run.credits += 1
    run.world.credit_on_server(account, run.rng.choice([50, 100]), f"credit{run.credits:04d}{account[-16:]}")


def _work(run: Run) -> str:
    """One piece of local work at a random workstation; what it was (skipped when the app refuses it)."""
    devices = {d.name: d for d in run.world.devices}
    kind = run.rng.choice(["register", "edit", "edit", "sign", "sign", "dispense", "dispense", "dispense", "cancel",
                           "credit"])  # fmt: skip
    try:
        if kind in ("register", "edit"):  # the prescriber at the clinic, an admin elsewhere
            name = run.rng.choice(sorted(run.contexts))
            editor = run.contexts[name][1 if name == "pharmacy-ws" else 0]
            if kind == "register":
                _register(run, editor)
            else:
                _edit(run, devices[name], editor)
        elif kind == "sign":
            _sign(run)
        elif kind == "dispense":
            name = run.rng.choice(["clinic-ws", "pharmacy-ws"])
            pharmacist = run.contexts[name][1] if name == "clinic-ws" else run.contexts[name][0]
            _dispense(run, devices[name], pharmacist)
        elif kind == "cancel":
            _cancel(run)
        else:
            _credit(run)
    except NothingToDo:
        return f"{kind}: nothing to do"
    except RxDeskError as exc:
        return f"{kind} refused: {type(exc).__name__}: {exc}"
    return kind


# -- syncs and faults --------------------------------------------------------------------------------------------


def _sync(run: Run, device: Device, fault: str | None) -> str:
    server, rng = run.server, run.rng
    if device.engine.status.state is SyncState.NEEDS_SIGN_IN and rng.random() < 0.6:
        run.world.sign_in_again(device)  # someone at the workstation signs in again (the server is up)
    on_step: Callable[[str], None] | None = None
    restore_timeouts = False
    late = None
    if fault == "drop_before":
        server.drop_before("POST", EXECUTIONS)
    elif fault == "drop_after":
        server.drop_after("POST", EXECUTIONS)
    elif fault == "429":
        server.fail("POST", EXECUTIONS, 429, retry_after="1")
    elif fault == "500_gateway":  # the gateway's own database call fails: it answers 503
        server.fail(None, rf"/v1/tablesdb/{DATABASE_ID}/tables/[a-z_]+/rows/[^/]+", 500)
    elif fault == "500_pull":
        table = rng.choice(["patient", "prescription", "prescription_item", "dispensing_line", "ledger_entry"])
        server.fail("GET", rf"/v1/tablesdb/{DATABASE_ID}/tables/{table}/rows", 500)
    elif fault == "revoke":
        at = rng.randint(0, 3)

        told = itertools.count(1)

        def revoke(step: str) -> None:
            if next(told) == at:
                server.revoke_sessions(run.world.user_of(device))

        if at == 0:
            server.revoke_sessions(run.world.user_of(device))
        on_step = revoke
    elif fault == "expire":
        settings = read_server_settings(device.database)
        secret = session_secret(settings) if settings else None
        if secret:
            server.expire_session(secret)
    elif fault == "timeout":
        server.delay("POST", EXECUTIONS, seconds=0.5)
        install_timeouts(read_s=0.2)
        restore_timeouts = True
    elif fault == "replay":

        def replay(step: str) -> None:
            if step.startswith("answered") and rng.random() < 0.7:
                server.replay_last("POST", EXECUTIONS)

        on_step = replay
    elif fault in ("restart_mid_sync", "kill"):
        at = rng.randint(1, 12)

        told = itertools.count(1)

        def stop_at(step: str) -> None:
            if next(told) == at:
                if fault == "kill":
                    raise Killed(step)
                server.stop()

        on_step = stop_at
    elif fault == "restart_between":
        server.stop()
    device.engine.on_step = on_step or (lambda _step: None)
    outcome = ""
    try:
        report = device.engine.sync_now()
        outcome = "ok" if report is not None else str(device.engine.status.state)
    except Killed as killed:
        outcome = f"killed after {killed}"
        device.engine = SyncEngine(device.database, clock=device.clock)  # a new process starts the app again
    finally:
        device.engine.on_step = lambda _step: None
        if restore_timeouts:
            install_timeouts(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
            late = server.requests_matching("POST", EXECUTIONS)
        server.clear_faults()
        if not server.running:
            server.start()
    if late:  # the server carries on with the request the client gave up on: let it finish
        deadline = time.monotonic() + 10
        while late[-1].status is None and late[-1].handled and time.monotonic() < deadline:
            time.sleep(0.02)
    device.clock.advance(seconds=rng.randint(1, 20))
    return outcome


def _final(run: Run) -> bool:
    """The faults are over: every workstation signs in again if it must and syncs, round after round, until a
    round sends nothing and no sync fails (each has then taken what the others sent last); False if that never
    comes in 8 rounds."""
    for _ in range(8):
        sent = 0
        for device in run.world.devices:
            report = device.engine.sync_now()
            if report is None and device.engine.status.state is SyncState.NEEDS_SIGN_IN:
                run.world.sign_in_again(device)
                report = device.engine.sync_now()
            if report is None:
                run.log.append(f"final sync of {device.name}: {device.engine.status}")
                sent += 1
                continue
            sent += sum(report.pushed.values())
        if sent == 0:
            return True
    run.log.append("still sending after 8 rounds")
    return False


def run_once(run_seed: str, fixtures: Fixtures, tmp: Path) -> tuple[Tally, list[str]]:
    rng = random.Random(run_seed)
    run = _build(rng, fixtures, tmp)
    try:
        for _ in range(rng.randint(6, 14)):
            clock = run.server.clock
            assert isinstance(clock, ManualClock)
            clock.advance(rng.choice([0, 0.003, 1, 4, 6, 30]))
            roll = rng.random()
            if roll < 0.5:
                run.log.append(_work(run))
            else:
                device = rng.choice(run.world.devices)
                fault = rng.choice(FAULTS) if roll < 0.85 else None
                run.log.append(f"sync {device.name} [{fault}]: {_sync(run, device, fault)}")
        quiet = _final(run)
        for device in run.world.devices:
            with device.database.reader() as session:
                for kind, count in session.execute(
                    select(SyncInboxItem.kind, func.count()).group_by(SyncInboxItem.kind)
                ).tuples():
                    run.log.extend([f"inbox {kind}"] * count)
        tally = run.world.tally()
        if not quiet:  # syncing never settled with the server reachable: stalled, whatever the rows say
            tally = replace(tally, stalled=tally.stalled + 1)
        return tally, run.log
    finally:
        run.server.close()
        for device in run.world.devices:
            device.database.close()


def what_happened(log: list[str]) -> Counter[str]:
    """A run's log as counts: each kind of local work done (or refused), each fault and how the sync ended, the
    inbox items left (conflicts and refusals the workstations were told of)."""
    counts: Counter[str] = Counter()
    for line in log:
        if line.startswith("sync "):
            fault = line[line.index("[") + 1 : line.index("]")]
            counts[f"fault {fault}: {line.rsplit(': ', 1)[1].split(' after ')[0]}"] += 1
        elif not line.startswith("devices"):
            counts[line.split(":")[0]] += 1
    return counts


def run_many(
    runs: int,
    seed: int,
    fixtures: Fixtures,
    tmp: Path,
    out: Any = sys.stderr,
    *,
    first: int = 0,
    step: int = 1,
    stats: Counter[str] | None = None,
) -> dict[str, int]:
    """Runs ``first``, ``first + step``, ... below ``runs`` of the seed; the totals (``runs``: how many ran here;
    ``errors``, only when some run raised instead of finishing). ``stats`` gathers what happened in them."""
    totals = {"runs": 0, "lost": 0, "duplicated": 0, "stalled": 0, "diverged": 0}
    for index in range(first, runs, step):
        run_seed = f"{seed}:{index}"
        folder = tmp / f"run{index}"
        try:
            tally, log = run_once(run_seed, fixtures, folder)
        except Exception:  # the harness or the app raised: the run counts as failed, the others go on
            totals["runs"] += 1
            totals["errors"] = totals.get("errors", 0) + 1
            print(json.dumps({"run_seed": run_seed, "error": traceback.format_exc()}), file=out, flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            continue
        totals["runs"] += 1
        if stats is not None:
            stats.update(what_happened(log))
        for key, value in tally.counts().items():
            totals[key] += value
        if not tally.clean():
            print(json.dumps({"run_seed": run_seed, **tally.counts(), "lost_rows": tally.lost[:5],
                              "duplicated_rows": tally.duplicated[:5], "diverged_rows": tally.diverged[:5],
                              "log": log}), file=out, flush=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
    return totals


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder for a process's runs, in memory where the machine has a tmpfs: the app database is synchronous=FULL,
    so each commit is an fsync, a disk's speed rather than sync's (power loss is tests/test_sync_crash.py's)."""
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="rxdesk-chaos-", dir=scratch) as folder:
        yield Path(folder)


def _worker(runs: int, seed: int, first: int, step: int) -> tuple[dict[str, int], Counter[str]]:
    keyring.set_keyring(MemoryKeyring())
    stats: Counter[str] = Counter()
    with scratch_folder() as folder, _fixtures(folder) as fixtures:
        return run_many(runs, seed, fixtures, folder, first=first, step=step, stats=stats), stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--jobs", type=int, default=1, help="processes sharing the runs (the results do not depend on it)"
    )
    parser.add_argument("--run-seed", help="replay one run (as printed for a run that was not clean)")
    args = parser.parse_args(argv)
    if args.run_seed:
        keyring.set_keyring(MemoryKeyring())
        with scratch_folder() as folder, _fixtures(folder) as fixtures:
            tally, log = run_once(args.run_seed, fixtures, folder / "replay")
        print("\n".join(log), file=sys.stderr)
        print(json.dumps({"runs": 1, **tally.counts(), "problems": tally.lost + tally.duplicated + tally.diverged}))
        return 0 if tally.clean() else 1
    jobs = max(1, min(args.jobs, args.runs))
    if jobs == 1:
        parts = [_worker(args.runs, args.seed, 0, 1)]
    else:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            parts = pool.starmap(_worker, [(args.runs, args.seed, j, jobs) for j in range(jobs)])
    totals = {key: sum(part[0].get(key, 0) for part in parts) for key in {k: 0 for p in parts for k in p[0]}}
    stats: Counter[str] = sum((part[1] for part in parts), Counter())
    print(json.dumps({"what happened": dict(sorted(stats.items()))}), file=sys.stderr)
    print(json.dumps(totals))
    return 0 if not any(v for k, v in totals.items() if k != "runs") else 1


if __name__ == "__main__":
    sys.exit(main())
