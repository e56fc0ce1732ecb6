"""What signing costs, in tokens: a configurable table (kept in the app database's settings)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from core.context import ServiceContext
from core.errors import ValidationError
from core.settings import read_setting, write_setting
from core.users.roles import Permission, require

SETTING_KEY = "token_costs"


@dataclass(frozen=True)
class CostTable:
    per_item: int = 10
    controlled_drug_surcharge: int = 5  # per Schedule 2-5 item: the extra checks and the register
    repeat_issue_discount: int = 5  # per item on issue 2 onwards of a repeat

    def item_cost(self, cd_schedule: int | None, repeat_issue: int | None) -> int:
        cost = self.per_item
        if cd_schedule is not None and cd_schedule >= 2:
            cost += self.controlled_drug_surcharge
        if repeat_issue is not None and repeat_issue > 1:
            cost -= self.repeat_issue_discount
        return max(0, cost)


def issue_costs(table: CostTable, cd_schedules: list[int | None], repeat_total: int | None) -> list[int]:
    """What each issue of a prescription costs: one issue, or every issue of a repeat (issue 2 onwards discounted)."""
    issues = range(1, (repeat_total or 1) + 1)
    return [sum(table.item_cost(s, n if repeat_total else None) for s in cd_schedules) for n in issues]


def read_cost_table(session: Session) -> CostTable:
    stored = read_setting(session, SETTING_KEY)
    return CostTable(**stored) if stored else CostTable()


def set_cost_table(ctx: ServiceContext, table: CostTable) -> None:
    require(ctx, Permission.MANAGE_TOKENS)
    if min(table.per_item, table.controlled_drug_surcharge, table.repeat_issue_discount) < 0:
        raise ValidationError("Token costs cannot be negative.")
    from core.audit.log import record_event

    with ctx.database.transaction() as session:
        before = asdict(read_cost_table(session))
        write_setting(session, SETTING_KEY, asdict(table))
        record_event(session, ctx, "tokens.cost_table", "setting", SETTING_KEY, before=before, after=asdict(table))
