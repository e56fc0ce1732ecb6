"""The admin's view of users: who exists, turning an account off and on, new password or PIN after one is lost.

A user is never deleted: their id is on prescriptions, dispensings and the audit log, so an account that must stop
working is deactivated instead (sign-in refuses it; the history keeps their name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import ValidationError
from core.outbox import enqueue_payload
from core.storage.models import Organisation, User
from core.users.passwords import hash_secret
from core.users.roles import Permission, Role, require
from core.users.service import MIN_PASSWORD_LENGTH, PIN_PATTERN, get_user, public_fields


@dataclass(frozen=True)
class UserSummary:
    id: str
    username: str
    full_name: str
    role: Role
    prescriber_type: str | None
    registration_number: str | None
    organisation_name: str | None
    active: bool
    has_pin: bool
    locked_until: datetime | None


def list_users(ctx: ServiceContext) -> list[UserSummary]:
    """Every user, active ones first, then by name."""
    require(ctx, Permission.MANAGE_USERS)
    with ctx.database.reader() as session:
        rows = session.execute(
            select(User, Organisation.name)
            .outerjoin(Organisation, Organisation.id == User.organisation_id)
            .order_by(User.active.desc(), User.full_name)
        ).all()
        return [
            UserSummary(
                user.id,
                user.username,
                user.full_name,
                Role(user.role),
                user.prescriber_type,
                user.registration_number,
                organisation,
                user.active,
                user.pin_hash is not None,
                user.locked_until,
            )
            for user, organisation in rows
        ]


def set_user_active(ctx: ServiceContext, user_id: str, active: bool, reason: str) -> None:
    """Deactivate (with a reason, audited) or reactivate an account. The last active admin stays active, and
    nobody deactivates themselves: either would lock everyone out of administration."""
    require(ctx, Permission.MANAGE_USERS)
    if not reason.strip():
        raise ValidationError("Give a reason: it is kept in the audit log.")
    with ctx.database.transaction() as session:
        user = get_user(session, user_id)
        if user.active == active:
            return
        if not active:
            if user.id == ctx.actor.user_id:
                raise ValidationError("You cannot deactivate your own account: ask another admin.")
            if user.role == Role.ADMIN.value:
                admins = session.execute(
                    select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.active)
                ).scalar_one()
                if admins <= 1:
                    raise ValidationError("This is the last active admin: add another admin first.")
        before = public_fields(user)
        user.active = active
        user.updated_at = ctx.now()
        if active:
            user.failed_sign_ins, user.locked_until = 0, None
        action = "user.activate" if active else "user.deactivate"
        record_event(
            session, ctx, action, "user", user.id, before=before, after={**public_fields(user), "reason": reason}
        )
        enqueue_payload(session, ctx, "user_account", public_fields(user))


def reset_secrets(ctx: ServiceContext, user_id: str, password: str | None, pin: str | None) -> None:
    """A new password and/or PIN for a user who lost theirs; clears a lockout. Audited (never the secrets)."""
    require(ctx, Permission.MANAGE_USERS)
    if password is None and pin is None:
        raise ValidationError("Enter a new password, a new PIN, or both.")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    if pin is not None and not PIN_PATTERN.fullmatch(pin):
        raise ValidationError("A PIN is 4 to 8 digits.")
    password_hash = hash_secret(password) if password is not None else None  # argon2: outside the write lock
    pin_hash = hash_secret(pin) if pin is not None else None
    with ctx.database.transaction() as session:
        user = get_user(session, user_id)
        if password_hash is not None:
            user.password_hash = password_hash
        if pin_hash is not None:
            user.pin_hash = pin_hash
        user.failed_sign_ins, user.locked_until = 0, None
        user.updated_at = ctx.now()
        changed = [name for name, value in (("password", password), ("pin", pin)) if value is not None]
        record_event(session, ctx, "user.reset_secrets", "user", user.id, after={"changed": changed})
