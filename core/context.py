"""Who is calling a service function, from which workstation, and when: passed to every service function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from core.storage.database import Database
from core.users.roles import Role


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """The signed-in user."""

    user_id: str
    username: str
    full_name: str
    role: Role
    organisation_id: str | None


@dataclass
class ServiceContext:
    """The database, the signed-in user, the workstation and the clock (replaceable in tests)."""

    database: Database
    actor: Actor
    workstation: str
    clock: Callable[[], datetime] = field(default=utc_now)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().date()
