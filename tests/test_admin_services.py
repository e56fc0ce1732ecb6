"""The core services behind the Admin workspace: users, organisation details, token accounts, the audit log
viewer and installing a catalogue release (from a file or from TRUD)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.audit.log import verify_chain
from core.audit.viewer import recent_events
from core.catalogue_install import install_release
from core.dmd.catalogue import Catalogue
from core.errors import NotFound, PermissionDenied, SignInFailed, ValidationError
from core.paths import replica_path
from core.storage.models import AuditEvent, Organisation
from core.tokens.accounts import list_accounts
from core.tokens.ledger import add_credit, create_account
from core.users.directory import list_users, reset_secrets, set_user_active
from core.users.organisations import OrganisationDetails, list_organisations, update_organisation
from core.users.roles import Role
from core.users.service import NewUser, create_user, sign_in
from sync.catalogue_update import DOWNLOADING, installed_release_sha256, update_from_trud
from sync.secrets import set_trud_key
from sync.trud import NetworkPolicy, TrudError
from tests.clinic import PASSWORD, WORKSTATION, Clinic
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.trud_server import FakeTrud

TRUD_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"


def audit_actions(clinic: Clinic) -> list[str]:
    with clinic.database.reader() as session:
        return list(session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def user_id(clinic: Clinic, username: str) -> str:
    return next(user.id for user in list_users(clinic.admin) if user.username == username)


# ------------------------------------------------------------------------------------------------ users


def test_list_users_shows_every_role_with_organisation(clinic: Clinic) -> None:
    users = {user.username: user for user in list_users(clinic.admin)}
    assert set(users) == {"admin", "drsmith", "pharm", "tech"}
    assert users["drsmith"].role is Role.PRESCRIBER
    assert users["drsmith"].organisation_name == "Riverside Surgery"
    assert users["drsmith"].registration_number == "1234567"
    assert users["drsmith"].has_pin and not users["tech"].has_pin
    assert all(user.active for user in users.values())


def test_only_admins_list_users(clinic: Clinic) -> None:
    with pytest.raises(PermissionDenied):
        list_users(clinic.pharmacist)


def test_deactivated_user_cannot_sign_in_until_reactivated(clinic: Clinic) -> None:
    tech = user_id(clinic, "tech")
    set_user_active(clinic.admin, tech, False, "left the pharmacy")
    with pytest.raises(SignInFailed):
        sign_in(clinic.database, "tech", PASSWORD, WORKSTATION, clinic.clock)
    summary = next(user for user in list_users(clinic.admin) if user.id == tech)
    assert not summary.active
    assert list_users(clinic.admin)[-1].id == tech  # inactive accounts sort last

    set_user_active(clinic.admin, tech, True, "came back")
    assert sign_in(clinic.database, "tech", PASSWORD, WORKSTATION, clinic.clock).actor.user_id == tech
    actions = audit_actions(clinic)
    assert actions.index("user.deactivate") < actions.index("user.activate")
    deactivation = next(row for row in recent_events(clinic.admin, "user.deactivate"))
    assert deactivation.after is not None and deactivation.after["reason"] == "left the pharmacy"


@pytest.mark.parametrize("reason", ["", "   "])
def test_deactivation_needs_a_reason(clinic: Clinic, reason: str) -> None:
    tech = user_id(clinic, "tech")
    with pytest.raises(ValidationError, match="reason"):
        set_user_active(clinic.admin, tech, False, reason)
    assert all(user.active for user in list_users(clinic.admin))


def test_admin_cannot_deactivate_themselves_or_the_last_admin(clinic: Clinic) -> None:
    with pytest.raises(ValidationError, match="your own"):
        set_user_active(clinic.admin, clinic.admin.actor.user_id, False, "testing")
    create_user(clinic.admin, NewUser("admin2", "Bo Admin", Role.ADMIN, PASSWORD))
    second = sign_in(clinic.database, "admin2", PASSWORD, WORKSTATION, clinic.clock)
    set_user_active(second, clinic.admin.actor.user_id, False, "moved on")  # another admin remains
    with pytest.raises(ValidationError, match="your own"):
        set_user_active(second, second.actor.user_id, False, "testing")


def test_last_active_admin_stays_active(clinic: Clinic) -> None:
    create_user(clinic.admin, NewUser("admin2", "Bo Admin", Role.ADMIN, PASSWORD))
    second = sign_in(clinic.database, "admin2", PASSWORD, WORKSTATION, clinic.clock)
    set_user_active(second, clinic.admin.actor.user_id, False, "left the practice")
    # Ada's session from before her deactivation must not take the last active admin with it.
    with pytest.raises(ValidationError, match="last active admin"):
        set_user_active(clinic.admin, second.actor.user_id, False, "revenge")
    assert next(u for u in list_users(second) if u.username == "admin2").active


def test_reset_secrets_replaces_password_and_pin_and_clears_lockout(clinic: Clinic) -> None:
    tech = user_id(clinic, "tech")
    for _ in range(5):
        with pytest.raises(SignInFailed):
            sign_in(clinic.database, "tech", "wrong password!", WORKSTATION, clinic.clock)
    assert next(u for u in list_users(clinic.admin) if u.id == tech).locked_until is not None

    reset_secrets(clinic.admin, tech, "a brand new password", "8642")
    summary = next(u for u in list_users(clinic.admin) if u.id == tech)
    assert summary.locked_until is None and summary.has_pin
    with pytest.raises(SignInFailed):
        sign_in(clinic.database, "tech", PASSWORD, WORKSTATION, clinic.clock)
    assert sign_in(clinic.database, "tech", "a brand new password", WORKSTATION, clinic.clock)
    assert sign_in(clinic.database, "tech", "8642", WORKSTATION, clinic.clock)
    event = recent_events(clinic.admin, "user.reset_secrets")[0]
    assert event.after == {"changed": ["password", "pin"]}
    assert "8642" not in str(event) and "brand new" not in str(event)


@pytest.mark.parametrize(
    ("password", "pin", "message"),
    [(None, None, "password, a new PIN"), ("short", None, "characters"), (None, "12a4", "4 to 8 digits")],
)
def test_reset_secrets_rejects_bad_input_and_changes_nothing(
    clinic: Clinic, password: str | None, pin: str | None, message: str
) -> None:
    tech = user_id(clinic, "tech")
    events = len(audit_actions(clinic))
    with pytest.raises(ValidationError, match=message):
        reset_secrets(clinic.admin, tech, password, pin)
    assert len(audit_actions(clinic)) == events
    assert sign_in(clinic.database, "tech", PASSWORD, WORKSTATION, clinic.clock)


def test_unknown_user_is_not_found(clinic: Clinic) -> None:
    with pytest.raises(NotFound):
        set_user_active(clinic.admin, "no-such-user", False, "why")


# ------------------------------------------------------------------------------------------------ organisations


def test_update_organisation_normalises_and_audits(clinic: Clinic) -> None:
    details = OrganisationDetails("Kirkgate Pharmacy Ltd", " 24 Kirkgate \n\n Leeds ", "ls2 7dj", "0113 496 0102")
    org = update_organisation(clinic.admin, clinic.pharmacy.id, details)
    assert (org.name, org.address, org.postcode) == ("Kirkgate Pharmacy Ltd", "24 Kirkgate\nLeeds", "LS2 7DJ")
    stored = {o.id: o for o in list_organisations(clinic.admin)}[clinic.pharmacy.id]
    assert stored.name == "Kirkgate Pharmacy Ltd"
    event = recent_events(clinic.admin, "organisation.update")[0]
    assert event.before is not None and event.before["name"] == "Kirkgate Pharmacy"
    assert event.after is not None and event.after["address"] == "24 Kirkgate\nLeeds"


@pytest.mark.parametrize(
    "details",
    [
        OrganisationDetails("Kirkgate Pharmacy", "22 Kirkgate\nLeeds", "NOT A POSTCODE", "0113 496 0101"),
        OrganisationDetails("Kirkgate Pharmacy", "22 Kirkgate\nLeeds", "LS2 7DJ", "call us"),
        OrganisationDetails("", "22 Kirkgate\nLeeds", "LS2 7DJ", "0113 496 0101"),
        OrganisationDetails("Kirkgate Pharmacy", "  ", "LS2 7DJ", "0113 496 0101"),
    ],
)
def test_bad_organisation_details_change_nothing(clinic: Clinic, details: OrganisationDetails) -> None:
    with pytest.raises(ValidationError):
        update_organisation(clinic.admin, clinic.pharmacy.id, details)
    with clinic.database.reader() as session:
        org = session.get_one(Organisation, clinic.pharmacy.id)
        assert (org.name, org.postcode, org.phone) == ("Kirkgate Pharmacy", "LS2 7DJ", clinic.pharmacy.phone)
    assert "organisation.update" not in audit_actions(clinic)


def test_unchanged_organisation_is_not_audited(clinic: Clinic) -> None:
    p = clinic.pharmacy
    update_organisation(clinic.admin, p.id, OrganisationDetails(p.name, p.address, p.postcode, p.phone))
    assert "organisation.update" not in audit_actions(clinic)


def test_only_admins_edit_organisations(clinic: Clinic) -> None:
    p = clinic.pharmacy
    with pytest.raises(PermissionDenied):
        update_organisation(clinic.pharmacist, p.id, OrganisationDetails("X", p.address, p.postcode, p.phone))


# ------------------------------------------------------------------------------------------------ token accounts


def test_list_accounts_shows_balances(clinic: Clinic) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 250, "Top-up")
    summaries = {summary.id: summary for summary in list_accounts(clinic.admin)}
    summary = summaries[account.id]
    assert summary.owner_kind == "organisation"
    assert summary.ledger_balance == 250
    assert summary.pending == 250  # the server has not confirmed it yet
    assert summary.confirmed_at is None


# ------------------------------------------------------------------------------------------------ audit viewer


def test_recent_events_newest_first_with_names(clinic: Clinic) -> None:
    rows = recent_events(clinic.admin)
    assert [row.seq for row in rows] == sorted((row.seq for row in rows), reverse=True)
    sign_ins = [row for row in rows if row.action == "user.sign_in"]
    assert {row.user_name for row in sign_ins} >= {"Dr Jane Smith", "Priya Patel"}
    assert len(recent_events(clinic.admin, limit=2)) == 2


def test_recent_events_filter_matches_text_not_wildcards(clinic: Clinic) -> None:
    assert {row.user_name for row in recent_events(clinic.admin, "priya")} == {"Priya Patel"}
    assert recent_events(clinic.admin, "%") == []  # a literal percent sign, not "anything"
    assert recent_events(clinic.admin, "user_sign") == []  # "_" is not "any one character"
    assert recent_events(clinic.admin, "SIGN_IN")  # case does not matter


def test_only_admins_read_the_audit_log(clinic: Clinic) -> None:
    with pytest.raises(PermissionDenied):
        recent_events(clinic.prescriber)


# ------------------------------------------------------------------------------------------------ catalogue


def test_install_release_builds_replica_and_audits(clinic: Clinic, tmp_path: Path, zip_2019: Path) -> None:
    stages: list[str] = []
    result = install_release(clinic.admin, tmp_path, zip_2019, progress=lambda stage, *_: stages.append(stage))
    assert stages
    with Catalogue(replica_path(tmp_path)) as catalogue:
        assert catalogue.release().name == result.info.name
        assert catalogue.counts()["ampp"] == result.counts["ampp"] > 0
    assert installed_release_sha256(tmp_path) == hashlib.sha256(zip_2019.read_bytes()).hexdigest()
    event = recent_events(clinic.admin, "catalogue.install")[0]
    assert event.after is not None and event.after["counts"]["ampp"] == result.counts["ampp"]
    with clinic.database.reader() as session:
        assert verify_chain(session).intact


def test_pharmacist_cannot_install_a_release(clinic: Clinic, tmp_path: Path, zip_2019: Path) -> None:
    with pytest.raises(PermissionDenied):
        install_release(clinic.pharmacist, tmp_path, zip_2019)
    assert not replica_path(tmp_path).exists()


def test_corrupt_release_leaves_catalogue_and_audit_untouched(clinic: Clinic, tmp_path: Path, zip_2019: Path) -> None:
    install_release(clinic.admin, tmp_path, zip_2019)
    before = replica_path(tmp_path).read_bytes()
    broken = tmp_path / "nhsbsa_dmd_9.9.9_20990101000001.zip"
    broken.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(Exception) as raised:
        install_release(clinic.admin, tmp_path, broken)
    assert not isinstance(raised.value, AssertionError)
    assert replica_path(tmp_path).read_bytes() == before
    assert audit_actions(clinic).count("catalogue.install") == 1


@pytest.fixture
def fast_policy() -> NetworkPolicy:
    return NetworkPolicy(
        attempts=2,
        base_delay=0.001,
        max_delay=0.01,
        max_retry_after=1,
        timeout=httpx.Timeout(5.0),
        sleep=lambda seconds: None,
    )


def test_update_from_trud_downloads_installs_and_audits(
    clinic: Clinic, tmp_path: Path, zip_2019: Path, memory_keyring: MemoryKeyring, fast_policy: NetworkPolicy
) -> None:
    set_trud_key(TRUD_KEY)
    with FakeTrud(keys={TRUD_KEY: {24, 25}}) as trud:
        trud.publish(24, zip_2019)
        progress: list[tuple[str, int, int]] = []
        outcome = update_from_trud(
            clinic.admin, tmp_path, lambda *report: progress.append(report), base_url=trud.base_url, policy=fast_policy
        )
        assert outcome.updated
        downloads = [report for report in progress if report[0] == DOWNLOADING]
        assert downloads and downloads[-1][1] == downloads[-1][2] == zip_2019.stat().st_size
        assert any(stage != DOWNLOADING for stage, *_ in progress)  # the build reported too
        assert "catalogue.install" in audit_actions(clinic)

        again = update_from_trud(clinic.admin, tmp_path, base_url=trud.base_url, policy=fast_policy)
    assert not again.updated and "up to date" in again.message
    assert audit_actions(clinic).count("catalogue.install") == 1


def test_update_from_trud_without_a_key_says_what_to_do(
    clinic: Clinic, tmp_path: Path, memory_keyring: MemoryKeyring, fast_policy: NetworkPolicy
) -> None:
    with pytest.raises(TrudError, match="No TRUD API key"):
        update_from_trud(clinic.admin, tmp_path, base_url="http://127.0.0.1:9", policy=fast_policy)


def test_no_half_written_rows_after_refusals(clinic: Clinic) -> None:
    with clinic.database.reader() as session:
        events = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    with pytest.raises(ValidationError):
        set_user_active(clinic.admin, clinic.admin.actor.user_id, False, "oops")
    with clinic.database.reader() as session:
        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events
        assert verify_chain(session).intact
