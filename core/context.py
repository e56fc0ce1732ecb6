"""Who is calling a service function, from which workstation, and when: passed to every service function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from core.storage.database import Database
from core.users.roles import Role

UK = ZoneInfo("Europe/London")  # the tzdata package provides it where the OS has no time zone database


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
        """The date in the UK: validity periods and owings are counted in UK days, not UTC ones (BST)."""
        return self.clock().astimezone(UK).date()
