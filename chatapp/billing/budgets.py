"""Monthly budgets: what a user may still spend, and reserve-then-settle around every call.

Before a call its worst-case cost is reserved (the prompt as counted by the API, the reply at
``max_tokens``); when its usage arrives the reservation is released and the actual cost is
added to the month's spend (``accounting.record_call`` does the adding). A reservation is one
conditional UPDATE of the user's ``MonthlySpend`` row, so concurrent requests — from any
number of tabs or processes — can never together take the month past the budget.

A batch job reserves the worst case of all its documents when it is created; the reservation
shrinks as they are answered (or cancelled, expired, errored) and is gone when the job ends.

A user without a budget of their own has the default (the budget row without a user); with
neither, spending is recorded but not limited. A group's policy may add a budget per member
(held against the member's own month, beside their own budget) and one for the group as a
whole (its ``GroupMonthlySpend`` row): a reservation is held against every budget that
applies, in one transaction, or against none. Months are calendar months in UTC.
Synchronous (ORM) except ``reserve_for_request``: call the rest through
``database_sync_to_async``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async

from chatapp.billing import counters, daily_usage, limits, money
from chatapp.errors import ChatappError
from chatapp.models import (
    GroupMonthlySpend,
    GroupPolicy,
    MonthlySpend,
)

WARN_AT = Decimal("0.8")
REPLY_ADVICE = (
    "Pick a cheaper model, start a new conversation, or ask an administrator to raise your budget."
)


class BudgetExceeded(ChatappError):
    """A call would take the user past their monthly budget; the message says so plainly."""

    code = "budget_exceeded"
    http_status = 402

    def __init__(self, message: str, *, exhausted: bool = False) -> None:
        super().__init__(message)
        self.exhausted = exhausted  # the month is used up: no smaller call would fit either


@dataclass(frozen=True)
class BudgetStatus:
    """This month's spend against the budget, as the composer shows it."""

    month: date
    spent: Decimal
    reserved: Decimal
    limit: Decimal | None
    budget: limits.Limit | None = None  # which budget this is: the one nearest its limit

    @property
    def used(self) -> Decimal:
        return self.spent + self.reserved

    @property
    def remaining(self) -> Decimal | None:
        return None if self.limit is None else max(self.limit - self.used, Decimal(0))

    @property
    def share_used(self) -> float | None:
        if self.limit is None:
            return None
        return 1.0 if self.limit <= 0 else float(self.used / self.limit)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    @property
    def warning(self) -> bool:
        return self.limit is not None and self.used >= self.limit * WARN_AT

    def as_json(self) -> dict[str, Any]:
        return {
            "month": f"{self.month:%Y-%m}",
            "renews_on": limits.next_month(self.month).isoformat(),
            "spent_usd": money.format_usd(self.spent),
            "reserved_usd": money.format_usd(self.reserved),
            "limit_usd": money.format_usd(self.limit),
            "remaining_usd": money.format_usd(self.remaining),
            "share_used": self.share_used,
            "warning": self.warning,
            "exceeded": self.exhausted,
            "budget": None if self.budget is None else self.budget.as_json(),
        }




def status(user_id: int, at: datetime | None = None) -> BudgetStatus:
    """This month against the budget nearest its limit (the user's own, a group's per
    member, or a group's as a whole); without any budget, the user's spend, not limited."""
    return status_of(user_id, limits.month_of(at), limits.limits_for(user_id))


def status_of(user_id: int, month: date, applying: limits.Limits) -> BudgetStatus:
    row = MonthlySpend.objects.filter(user_id=user_id, month=month).first()
    spent = row.spent_usd if row else Decimal(0)
    reserved = row.reserved_usd if row else Decimal(0)
    candidates = [
        BudgetStatus(month, spent, reserved, limit.amount, limit) for limit in applying.on_user
    ]
    if applying.groups:
        rows = {
            r.group_id: r
            for r in GroupMonthlySpend.objects.filter(
                month=month, group_id__in=[limit.group_id for limit in applying.groups]
            )
        }
        for limit in applying.groups:
            group_row = rows.get(limit.group_id)
            candidates.append(BudgetStatus(
                month,
                group_row.spent_usd if group_row else Decimal(0),
                group_row.reserved_usd if group_row else Decimal(0),
                limit.amount,
                limit,
            ))
    if not candidates:
        return BudgetStatus(month=month, spent=spent, reserved=reserved, limit=None)
    # The nearest its limit: the largest share used; of equal shares, the least left.
    return max(candidates, key=lambda c: (c.share_used, -(c.remaining or 0)))




async def astatus(user_id: int) -> BudgetStatus:
    return await database_sync_to_async(status)(user_id)


def _day(day: date) -> str:
    return f"{day.day} {day:%B}"


def exhausted_message(current: BudgetStatus) -> str:
    renews = (
        f"It renews on {_day(limits.next_month(current.month))}; "
        "an administrator can raise it sooner."
    )
    budget = current.budget
    if budget is not None and budget.kind == "group":
        return (
            f"The group {budget.group_name} has used its monthly budget of "
            f"{money.dollars(current.limit)} ({money.dollars(current.used)} so far this month). "
            f"{renews}"
        )
    if budget is not None and budget.kind == "member":
        return (
            f"You have used the monthly budget per member of {budget.group_name}, "
            f"{money.dollars(current.limit)} ({money.dollars(current.used)} so far this month). "
            f"{renews}"
        )
    return (
        f"You have used your monthly budget of {money.dollars(current.limit)} "
        f"({money.dollars(current.used)} so far this month). {renews}"
    )


def refuse_if_exhausted(user_id: int) -> None:
    """The cheap check before anything is saved: at 100% nothing new is started."""
    limit_unless_exhausted(user_id)


def add_spend(
    user_id: int,
    amount: Decimal | None,
    at: datetime | None = None,
    group_ids: Iterable[int] | None = None,
) -> None:
    """Count a priced call towards its month (unpriced calls have nothing to add), and towards
    the month of each group whose whole-group budget applies to the user.

    ``group_ids``: those groups, when the caller knows them (the call's reservations were
    held against them: ``CallBudget.group_ids``); None looks them up (one statement)."""
    if not amount:
        return
    month = limits.month_of(at)
    _add(MonthlySpend, amount, user_id=user_id, month=month)
    if group_ids is None:
        group_ids = GroupPolicy.objects.filter(
            group__user=user_id, monthly_limit_usd__isnull=False
        ).values_list("group_id", flat=True)
    for group_id in sorted(group_ids):
        _add(GroupMonthlySpend, amount, group_id=group_id, month=month)


def _add(table, amount: Decimal, **key: Any) -> None:
    added = {"spent_usd": amount}
    # The month's row usually exists: one UPDATE; the month's first call inserts it already
    # holding the amount (no read); if another first call inserted it meanwhile, the UPDATE.
    if not counters.add_to(table, key, added) and not daily_usage.insert_first(
        table, spent_usd=amount, **key
    ):
        counters.add_to(table, key, added)


def limit_unless_exhausted(user_id: int) -> Decimal | None:
    """The limit nearest (None: not limited); at 100% of any budget the refusal, before even
    a count."""
    applying = limits.limits_for(user_id)
    if not applying.limited:  # no budget applies: the month's spend does not matter here
        return None
    current = status_of(user_id, limits.month_of(), applying)
    if current.exhausted:
        raise BudgetExceeded(exhausted_message(current), exhausted=True)
    return current.limit

