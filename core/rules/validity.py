"""How long a prescription (and its owings) may be dispensed: by CD schedule, from the appropriate date."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day (31 Aug + 6 months)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ValidityPeriod:
    schedules: frozenset[int | None]
    days: int = 0
    months: int = 0
    description: str = ""

    def last_valid_day(self, appropriate: date) -> date:
        """The last day a supply may be made. Schedule 2-4: not later than 28 days *after* the appropriate date
        (Misuse of Drugs Regulations); otherwise within six months *beginning with* it (Human Medicines
        Regulations), so the appropriate date is the first of those months' days."""
        if self.months:
            return add_months(appropriate, self.months) - timedelta(days=1) + timedelta(days=self.days)
        return appropriate + timedelta(days=self.days)

    def approx_days(self) -> int:
        return self.days + 31 * self.months


VALIDITY_PERIODS = (
    ValidityPeriod(frozenset({2, 3, 4}), days=28, description="28 days (Schedule 2, 3 and 4 controlled drugs)"),
    ValidityPeriod(frozenset({None, 1, 5}), months=6, description="6 months"),
)


def validity_for(schedule: int | None) -> ValidityPeriod:
    for period in VALIDITY_PERIODS:
        if schedule in period.schedules:
            return period
    raise ValueError(f"no validity period for schedule {schedule}")


def prescription_validity(schedules: list[int | None]) -> ValidityPeriod:
    """The shortest period of any item: a prescription with one Schedule 3 item is valid for 28 days."""
    return min((validity_for(s) for s in schedules or [None]), key=lambda p: p.approx_days())


def item_valid_until(appropriate: date, schedule: int | None) -> date:
    """The last day one item may be supplied (owings included)."""
    return validity_for(schedule).last_valid_day(appropriate)


def valid_until(appropriate: date, schedules: list[int | None]) -> date:
    """The last day anything on the prescription may be supplied. Each item keeps its own period: a Schedule 3
    item ends after 28 days while a non-CD item on the same prescription stays valid for 6 months."""
    return max(item_valid_until(appropriate, s) for s in schedules or [None])


def earliest_item_expiry(appropriate: date, schedules: list[int | None]) -> date:
    return min(item_valid_until(appropriate, s) for s in schedules or [None])
