"""Organisations and users: creation (admins only, or the very first admin), offline sign-in, PIN re-entry."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import Actor, ServiceContext, utc_now
from core.errors import DuplicateRecord, NotFound, PermissionDenied, SignInFailed, ValidationError
from core.outbox import enqueue, enqueue_payload, row_payload
from core.storage.database import Database
from core.storage.models import Organisation, User
from core.storage.models.organisation import OrganisationKind
from core.users.passwords import NOT_SET_HERE, hash_secret, verify_secret
from core.users.roles import Permission, PrescriberType, Role, require
from core.validation.contact import normalise_phone, normalise_postcode

MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 8
PIN_PATTERN = re.compile(r"\d{4,8}")
_USERNAME = re.compile(r"[a-z0-9._-]{2,64}")
# Registration numbers by prescriber type: GMC 7 digits, NMC 2 digits + letter + 4 digits + letter, GDC digits,
# GPhC 7 digits.
_REGISTRATION = {
    PrescriberType.DOCTOR: re.compile(r"\d{7}"),
    PrescriberType.NURSE: re.compile(r"\d{2}[A-Z]\d{4}[A-Z]"),
    PrescriberType.DENTIST: re.compile(r"\d{1,6}"),
    PrescriberType.PHARMACIST_PRESCRIBER: re.compile(r"\d{7}"),
}
REGISTRATION_BODY = {
    PrescriberType.DOCTOR: "GMC",
    PrescriberType.NURSE: "NMC",
    PrescriberType.DENTIST: "GDC",
    PrescriberType.PHARMACIST_PRESCRIBER: "GPhC",
}


@dataclass(frozen=True)
class NewUser:
    username: str
    full_name: str
    role: Role
    password: str
    pin: str | None = None
    prescriber_type: PrescriberType | None = None
    registration_number: str | None = None
    organisation_id: str | None = None


def _check_new_user(new: NewUser) -> None:
    if not _USERNAME.fullmatch(new.username):
        raise ValidationError("A user name is 2-64 lower-case letters, digits, dots, dashes or underscores.")
    if not new.full_name.strip():
        raise ValidationError("The user's full name is required.")
    if len(new.password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    if new.pin is not None and not PIN_PATTERN.fullmatch(new.pin):
        raise ValidationError("A PIN is 4 to 8 digits.")
    if new.role is Role.PRESCRIBER:
        if new.prescriber_type is None:
            raise ValidationError(
                "A prescriber needs a prescriber type (doctor, nurse, dentist, pharmacist prescriber)."
            )
        reg = (new.registration_number or "").strip().upper()
        if not _REGISTRATION[new.prescriber_type].fullmatch(reg):
            body = REGISTRATION_BODY[new.prescriber_type]
            raise ValidationError(f"{reg or 'An empty value'} is not a valid {body} registration number.")
        if new.pin is None:
            raise ValidationError("A prescriber needs a PIN: it is asked again when signing a prescription.")


def _user_row(new: NewUser, now: datetime) -> User:
    return User(
        username=new.username,
        full_name=new.full_name.strip(),
        role=new.role.value,
        prescriber_type=new.prescriber_type.value if new.prescriber_type else None,
        registration_number=(new.registration_number or "").strip().upper() or None,
        password_hash=hash_secret(new.password),
        pin_hash=hash_secret(new.pin) if new.pin else None,
        organisation_id=new.organisation_id,
        active=True,
        failed_sign_ins=0,
        created_at=now,
        updated_at=now,
    )


def _insert_user(session: Session, new: NewUser, now: datetime) -> User:
    _check_new_user(new)
    if session.execute(select(User.id).where(User.username == new.username)).first():
        raise DuplicateRecord(f"The user name {new.username} is taken.")
    if new.organisation_id is not None and session.get(Organisation, new.organisation_id) is None:
        raise NotFound("That organisation does not exist.")
    user = _user_row(new, now)
    session.add(user)
    session.flush()
    return user


def create_first_admin(database: Database, new: NewUser, workstation: str) -> ServiceContext:
    """Set up a new installation: the first user, always an admin. Refused once any user exists."""
    if new.role is not Role.ADMIN:
        raise ValidationError("The first user of an installation is an admin.")
    with database.transaction() as session:
        if session.execute(select(func.count()).select_from(User)).scalar_one():
            raise PermissionDenied("This installation already has users: ask an admin to add you.")
        user = _insert_user(session, new, utc_now())
        ctx = ServiceContext(database, actor_of(user), workstation)
        # The user first: the server takes the event only from a user it knows.
        enqueue_payload(session, ctx, "user_account", public_fields(user))
        record_event(session, ctx, "user.create", "user", user.id, after=public_fields(user))
    return ctx


def create_organisation(
    ctx: ServiceContext, kind: OrganisationKind, name: str, address: str, postcode: str, phone: str
) -> Organisation:
    require(ctx, Permission.MANAGE_USERS)
    if not name.strip() or not address.strip():
        raise ValidationError("An organisation needs a name and an address: both are printed on labels.")
    now = ctx.now()
    org = Organisation(
        kind=kind.value,
        name=name.strip(),
        address=address.strip(),
        postcode=normalise_postcode(postcode),
        phone=normalise_phone(phone),
        created_at=now,
        updated_at=now,
    )
    with ctx.database.transaction() as session:
        session.add(org)
        session.flush()
        record_event(session, ctx, "organisation.create", "organisation", org.id, after=public_fields(org))
        enqueue(session, ctx, org)
    return org


def create_user(ctx: ServiceContext, new: NewUser) -> User:
    require(ctx, Permission.MANAGE_USERS)
    with ctx.database.transaction() as session:
        user = _insert_user(session, new, ctx.now())
        record_event(session, ctx, "user.create", "user", user.id, after=public_fields(user))
        # Other workstations need who prescribed (name, registration) for dispensing and the CD register.
        enqueue_payload(session, ctx, "user_account", public_fields(user))
    return user


def public_fields(row: Organisation | User) -> dict[str, Any]:
    """The row without its secrets' hashes or this workstation's sign-in state: what the audit and server see."""
    data = row_payload(row)
    for local in ("password_hash", "pin_hash", "failed_sign_ins", "locked_until"):
        data.pop(local, None)
    return data


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.full_name, Role(user.role), user.organisation_id)


def sign_in(
    database: Database,
    username: str,
    secret: str,
    workstation: str,
    clock: Callable[[], datetime] = utc_now,
) -> ServiceContext:
    """Check a password or PIN against the stored hashes (offline). Five failures lock the account for 5 minutes."""
    now = clock()
    failure = "Wrong user name, password or PIN."
    with database.reader() as session:
        user = session.execute(select(User).where(User.username == username.strip().lower())).scalar()
    if user is None or not user.active:
        raise SignInFailed(failure)
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise SignInFailed(f"Too many wrong attempts: this account is locked for {minutes} more minute(s).")
    if user.password_hash == NOT_SET_HERE:
        raise SignInFailed(
            f"{user.full_name} has no password on this workstation yet: an admin here can give them one "
            "(Admin → Users → New password or PIN)."
        )
    # argon2 is slow by design: checked before, not while holding, the write lock.
    ok = verify_secret(user.password_hash, secret) or (
        user.pin_hash is not None and verify_secret(user.pin_hash, secret)
    )
    with database.transaction() as session:
        user = session.get_one(User, user.id)
        ctx = ServiceContext(database, actor_of(user), workstation, clock)
        if not ok:
            user.failed_sign_ins += 1
            if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
                user.locked_until = now + LOCKOUT
                user.failed_sign_ins = 0
        else:
            user.failed_sign_ins = 0
            user.locked_until = None
            record_event(session, ctx, "user.sign_in", "user", user.id)
    if not ok:
        raise SignInFailed(failure)
    return ctx


def verify_pin(ctx: ServiceContext, pin: str) -> None:
    """The signed-in user's PIN, asked again before signing. Wrong PINs count towards the same lockout as sign-in
    (a signed-in workstation left unattended must not let anyone try every PIN). Raises SignInFailed."""
    now = ctx.now()
    with ctx.database.reader() as session:
        user = session.get_one(User, ctx.actor.user_id)
        pin_hash, locked_until, failures = user.pin_hash, user.locked_until, user.failed_sign_ins
    if locked_until is not None and locked_until > now:
        raise SignInFailed("Too many wrong PINs: signing is locked for a few minutes.")
    # argon2 takes tens of ms: checked outside any write transaction.
    if pin_hash is not None and verify_secret(pin_hash, pin):
        if failures:
            with ctx.database.transaction() as session:
                session.get_one(User, ctx.actor.user_id).failed_sign_ins = 0
        return
    with ctx.database.transaction() as session:
        user = session.get_one(User, ctx.actor.user_id)
        user.failed_sign_ins += 1
        locked = user.failed_sign_ins >= MAX_FAILED_SIGN_INS
        if locked:
            user.locked_until = now + LOCKOUT
            user.failed_sign_ins = 0
        record_event(session, ctx, "user.pin_failed", "user", user.id, after={"locked": locked})
    raise SignInFailed("That PIN is not right: the prescription was not signed.")


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user
