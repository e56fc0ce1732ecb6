"""Organisations, users and roles: offline sign-in with argon2 hashes, lockout, and role checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import DuplicateRecord, PermissionDenied, SignInFailed, ValidationError
from core.storage.database import open_database
from core.storage.models import User
from core.storage.models.organisation import OrganisationKind
from core.users.roles import ROLE_PERMISSIONS, Permission, PrescriberType, Role, allowed
from core.users.service import NewUser, create_first_admin, create_organisation, create_user, sign_in
from tests.clinic import PASSWORD, WORKSTATION, Clinic


def prescriber(**changes: object) -> NewUser:
    fields: dict[str, object] = {
        "username": "drnew",
        "full_name": "Dr New",
        "role": Role.PRESCRIBER,
        "password": PASSWORD,
        "pin": "9876",
        "prescriber_type": PrescriberType.NURSE,
        "registration_number": "12a3456b",
    }
    fields.update(changes)
    return NewUser(**fields)  # type: ignore[arg-type]


def test_hashes_not_secrets_are_stored(clinic: Clinic) -> None:
    with clinic.database.reader() as session:
        user = session.execute(select(User).where(User.username == "drsmith")).scalar_one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert user.pin_hash and user.pin_hash.startswith("$argon2id$")
    assert PASSWORD.encode() not in Path(clinic.database.path).read_bytes()


def test_sign_in_with_password_or_pin(clinic: Clinic) -> None:
    assert sign_in(clinic.database, "drsmith", PASSWORD, WORKSTATION).actor.role is Role.PRESCRIBER
    assert sign_in(clinic.database, " DrSmith ", "2468", WORKSTATION).actor.username == "drsmith"


@pytest.mark.parametrize(("username", "secret"), [("drsmith", "wrong"), ("nobody", PASSWORD)])
def test_wrong_credentials_say_the_same_thing(clinic: Clinic, username: str, secret: str) -> None:
    with pytest.raises(SignInFailed, match="Wrong user name, password or PIN"):
        sign_in(clinic.database, username, secret, WORKSTATION)


def test_five_failures_lock_the_account(clinic: Clinic) -> None:
    for _ in range(5):
        with pytest.raises(SignInFailed):
            sign_in(clinic.database, "pharm", "nope", WORKSTATION, clinic.clock)
    with pytest.raises(SignInFailed, match="locked"):
        sign_in(clinic.database, "pharm", PASSWORD, WORKSTATION, clinic.clock)
    clinic.clock.advance(minutes=6)
    assert sign_in(clinic.database, "pharm", PASSWORD, WORKSTATION, clinic.clock).actor.username == "pharm"


def test_first_admin_only_once(tmp_path: Path) -> None:
    db = open_database(tmp_path / "rxdesk.sqlite")
    with pytest.raises(ValidationError, match="admin"):
        create_first_admin(db, prescriber(), WORKSTATION)
    create_first_admin(db, NewUser("boss", "Boss", Role.ADMIN, PASSWORD), WORKSTATION)
    with pytest.raises(PermissionDenied, match="already has users"):
        create_first_admin(db, NewUser("boss2", "Boss", Role.ADMIN, PASSWORD), WORKSTATION)
    db.close()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "Bad Name"}, "user name"),
        ({"password": "short"}, "at least 8"),
        ({"pin": "12"}, "4 to 8 digits"),
        ({"pin": None}, "needs a PIN"),
        ({"prescriber_type": None}, "needs a prescriber type"),
        ({"registration_number": "123"}, "not a valid NMC registration number"),
        ({"prescriber_type": PrescriberType.DOCTOR, "registration_number": "12A3456B"}, "GMC"),
        ({"full_name": "  "}, "full name"),
    ],
)
def test_bad_new_users_are_refused(clinic: Clinic, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        create_user(clinic.admin, prescriber(**changes))
    with clinic.database.reader() as session:
        assert session.execute(select(User).where(User.username == "drnew")).first() is None


def test_duplicate_user_name_is_refused(clinic: Clinic) -> None:
    with pytest.raises(DuplicateRecord, match="taken"):
        create_user(clinic.admin, prescriber(username="drsmith"))


def test_only_admins_create_users_and_organisations(clinic: Clinic) -> None:
    with pytest.raises(PermissionDenied, match="prescriber may not manage users"):
        create_user(clinic.prescriber, prescriber())
    with pytest.raises(PermissionDenied):
        create_organisation(clinic.pharmacist, OrganisationKind.PHARMACY, "X", "1 St", "LS1 4AP", "0113 496 0000")


def test_organisation_details_are_validated(clinic: Clinic) -> None:
    with pytest.raises(ValidationError, match="postcode"):
        create_organisation(clinic.admin, OrganisationKind.CLINIC, "X", "1 St", "NOT A CODE", "0113 496 0000")
    with pytest.raises(ValidationError, match="phone"):
        create_organisation(clinic.admin, OrganisationKind.CLINIC, "X", "1 St", "LS1 4AP", "12345")


def test_role_table() -> None:
    assert allowed(Role.PRESCRIBER, Permission.PRESCRIBE)
    assert not allowed(Role.PHARMACIST, Permission.PRESCRIBE)
    assert allowed(Role.PHARMACIST, Permission.DISPENSE) and not allowed(Role.TECHNICIAN, Permission.DISPENSE)
    assert allowed(Role.TECHNICIAN, Permission.ASSEMBLE)
    assert allowed(Role.ADMIN, Permission.MANAGE_TOKENS) and not allowed(Role.ADMIN, Permission.PRESCRIBE)
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_new_users_reach_the_outbox_without_their_secrets(clinic: Clinic) -> None:
    import json

    from core.storage.models import OutboxEntry

    with clinic.database.reader() as session:
        queued = session.execute(select(OutboxEntry).where(OutboxEntry.table == "user_account")).scalars()
        payloads = {p["username"]: p for p in (json.loads(e.payload) for e in queued)}
    assert set(payloads) == {"admin", "drsmith", "pharm", "tech"}
    assert payloads["drsmith"]["registration_number"] == "1234567"
    assert not {"password_hash", "pin_hash", "failed_sign_ins", "locked_until"} & set(payloads["drsmith"])
