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

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import Case, DecimalField, F, IntegerField, Q, Value, When
from django.utils import timezone

from chatapp.billing import daily_usage, money, prices
from chatapp.claude import messages as claude_messages
from chatapp.claude import token_bounds
from chatapp.claude.pricing import worst_case_cost
from chatapp.claude.types import UpstreamError
from chatapp.errors import ChatappError
from chatapp.models import (
    Budget,
    BudgetReservation,
    GroupMonthlySpend,
    GroupPolicy,
    MonthlySpend,
)
from chatapp.operations import metrics

WARN_AT = Decimal("0.8")
REPLY_ADVICE = (
    "Pick a cheaper model, start a new conversation, or ask an administrator to raise your budget."
)
# No call runs this long (8 tool rounds of a 10-minute timeout each would be 80 minutes): a
# reservation older than this was left by a process that died, and is freed.
STALE_AFTER = timedelta(hours=3)


class BudgetExceeded(ChatappError):
    """A call would take the user past their monthly budget; the message says so plainly."""

    code = "budget_exceeded"
    http_status = 402

    def __init__(self, message: str, *, exhausted: bool = False) -> None:
        super().__init__(message)
        self.exhausted = exhausted  # the month is used up: no smaller call would fit either


@dataclass(frozen=True)
class Reservation:
    pk: int
    user_id: int
    month: date
    amount: Decimal
    group_ids: tuple[int, ...] = ()  # the whole-group budgets it is also held against


@dataclass(frozen=True)
class Limit:
    """One budget that applies to a user: their own (or the default), a group's budget per
    member (both on the user's month), or a group's budget as a whole (on the group's)."""

    kind: str  # "user", "default", "member" or "group"
    amount: Decimal
    group_id: int | None = None
    group_name: str = ""

    @property
    def words(self) -> str:
        """The budget in plain words, as a refusal names it."""
        if self.kind == "member":
            return f"the monthly budget per member of {self.group_name}"
        if self.kind == "group":
            return f"the monthly budget of the group {self.group_name}"
        return "your monthly budget"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "group": self.group_name or None, "label": self.words}


@dataclass(frozen=True)
class Limits:
    """Every budget that applies to one user (``limits_for``)."""

    own: Limit | None = None
    members: tuple[Limit, ...] = ()
    groups: tuple[Limit, ...] = ()

    @property
    def limited(self) -> bool:
        return bool(self.own or self.members or self.groups)

    @property
    def on_user(self) -> tuple[Limit, ...]:
        return ((self.own,) if self.own else ()) + self.members

    @property
    def tightest_on_user(self) -> Limit | None:
        """The user's month is held to the smallest of the budgets counted on it."""
        return min(self.on_user, key=lambda limit: limit.amount, default=None)


@dataclass(frozen=True)
class BudgetStatus:
    """This month's spend against the budget, as the composer shows it."""

    month: date
    spent: Decimal
    reserved: Decimal
    limit: Decimal | None
    budget: Limit | None = None  # which budget this is: the one nearest its limit

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
            "renews_on": next_month(self.month).isoformat(),
            "spent_usd": money.format_usd(self.spent),
            "reserved_usd": money.format_usd(self.reserved),
            "limit_usd": money.format_usd(self.limit),
            "remaining_usd": money.format_usd(self.remaining),
            "share_used": self.share_used,
            "warning": self.warning,
            "exceeded": self.exhausted,
            "budget": None if self.budget is None else self.budget.as_json(),
        }


def month_of(at: datetime | None = None) -> date:
    return timezone.localdate(at or timezone.now()).replace(day=1)


def next_month(month: date) -> date:
    days = calendar.monthrange(month.year, month.month)[1]
    return month + timedelta(days=days)


_OWN, _DEFAULT = 0, -1  # the first column of ``limits_for``'s rows (else a group's id)


def limits_for(user_id: int) -> Limits:
    """Every budget that applies to the user, in one statement (a UNION of their own and the
    default budget with their groups' policies): a user in no group pays nothing extra."""
    money = DecimalField(max_digits=12, decimal_places=2)
    own = (
        Budget.objects.filter(Q(user_id=user_id) | Q(user__isnull=True))
        .annotate(
            key=Case(
                When(user__isnull=True, then=Value(_DEFAULT)),
                default=Value(_OWN),
                output_field=IntegerField(),
            ),
            name=Value(""),
            whole=F("monthly_usd"),
            member=Value(None, output_field=money),
        )
        .values_list("key", "name", "whole", "member")
    )
    groups = (
        GroupPolicy.objects.filter(group__user=user_id)
        .filter(Q(monthly_limit_usd__isnull=False) | Q(per_member_limit_usd__isnull=False))
        .annotate(
            key=F("group_id"),
            name=F("group__name"),
            whole=F("monthly_limit_usd"),
            member=F("per_member_limit_usd"),
        )
        .values_list("key", "name", "whole", "member")
    )
    rows = list(own.union(groups, all=True))
    budgets = {key: amount for key, _name, amount, _member in rows if key in (_OWN, _DEFAULT)}
    mine = budgets.get(_OWN)
    default = budgets.get(_DEFAULT)
    own_limit = (
        Limit("user", mine) if mine is not None
        else Limit("default", default) if default is not None else None
    )
    group_rows = sorted((row for row in rows if row[0] > 0), key=lambda row: row[0])
    return Limits(
        own=own_limit,
        members=tuple(
            Limit("member", member, group_id, name)
            for group_id, name, _whole, member in group_rows if member is not None
        ),
        groups=tuple(
            Limit("group", whole, group_id, name)
            for group_id, name, whole, _member in group_rows if whole is not None
        ),
    )


def monthly_limit(user_id: int) -> Decimal | None:
    """The user's own budget, else the default, else None (groups' budgets aside)."""
    own = limits_for(user_id).own
    return None if own is None else own.amount


def status(user_id: int, at: datetime | None = None) -> BudgetStatus:
    """This month against the budget nearest its limit (the user's own, a group's per
    member, or a group's as a whole); without any budget, the user's spend, not limited."""
    return _status(user_id, month_of(at), limits_for(user_id))


def _status(user_id: int, month: date, limits: Limits) -> BudgetStatus:
    row = MonthlySpend.objects.filter(user_id=user_id, month=month).first()
    spent = row.spent_usd if row else Decimal(0)
    reserved = row.reserved_usd if row else Decimal(0)
    candidates = [
        BudgetStatus(month, spent, reserved, limit.amount, limit) for limit in limits.on_user
    ]
    if limits.groups:
        rows = {
            r.group_id: r
            for r in GroupMonthlySpend.objects.filter(
                month=month, group_id__in=[limit.group_id for limit in limits.groups]
            )
        }
        for limit in limits.groups:
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


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}" if amount >= Decimal("0.01") or amount == 0 else f"${amount:.4f}"


async def astatus(user_id: int) -> BudgetStatus:
    return await database_sync_to_async(status)(user_id)


def _day(day: date) -> str:
    return f"{day.day} {day:%B}"


def _exhausted_message(current: BudgetStatus) -> str:
    renews = (
        f"It renews on {_day(next_month(current.month))}; an administrator can raise it sooner."
    )
    budget = current.budget
    if budget is not None and budget.kind == "group":
        return (
            f"The group {budget.group_name} has used its monthly budget of "
            f"{_money(current.limit)} ({_money(current.used)} so far this month). {renews}"
        )
    if budget is not None and budget.kind == "member":
        return (
            f"You have used the monthly budget per member of {budget.group_name}, "
            f"{_money(current.limit)} ({_money(current.used)} so far this month). {renews}"
        )
    return (
        f"You have used your monthly budget of {_money(current.limit)} "
        f"({_money(current.used)} so far this month). {renews}"
    )


def refuse_if_exhausted(user_id: int) -> None:
    """The cheap check before anything is saved: at 100% nothing new is started."""
    _limit_unless_exhausted(user_id)


def _spend_row(user_id: int, month: date) -> MonthlySpend:
    # Two first calls of a month can race to create the row; the loser reads the winner's.
    try:
        with transaction.atomic():
            return MonthlySpend.objects.get_or_create(user_id=user_id, month=month)[0]
    except IntegrityError:
        return MonthlySpend.objects.get(user_id=user_id, month=month)


def _group_spend_row(group_id: int, month: date) -> None:
    try:
        with transaction.atomic():
            GroupMonthlySpend.objects.get_or_create(group_id=group_id, month=month)
    except IntegrityError:
        pass  # a concurrent first call made it


def reserve(
    user_id: int,
    amount: Decimal,
    at: datetime | None = None,
    *,
    subject: str = "This reply",
    advice: str = REPLY_ADVICE,
    batch_job_id: int | None = None,
) -> Reservation | None:
    """Hold ``amount`` against this month's budget, or raise ``BudgetExceeded``.

    None when the user's spending is not limited (nothing to hold; no transaction opened).
    ``subject`` and ``advice`` word the refusal ("This reply could cost up to …");
    ``batch_job_id`` ties the reservation to a batch job, which settles it (``shrink``)
    rather than a process.
    """
    limits = limits_for(user_id)
    if not limits.limited:
        return None
    return _hold(user_id, limits, amount, at, subject, advice, batch_job_id)


def _fits(limit: Decimal, amount: Decimal) -> dict[str, Any]:
    """The WHERE of a conditional reservation: not at 100%, and ``amount`` still fits."""
    return {
        "spent_usd__lt": Value(limit) - F("reserved_usd"),
        "spent_usd__lte": Value(limit - amount) - F("reserved_usd"),
    }


@transaction.atomic
def _hold(
    user_id: int,
    limits: Limits,
    amount: Decimal,
    at: datetime | None,
    subject: str,
    advice: str,
    batch_job_id: int | None,
) -> Reservation:
    month = month_of(at)
    _spend_row(user_id, month)
    for group in limits.groups:
        _group_spend_row(group.group_id, month)
    _release_stale(user_id)
    # One statement checks and takes, per row: PostgreSQL re-evaluates the WHERE on the latest
    # row version when another transaction updated it first, SQLite runs writers one at a
    # time. The user's row first, then the groups' by id (one order: no deadlock); a refusal
    # anywhere rolls back what the transaction took before it.
    tightest = limits.tightest_on_user
    rows = MonthlySpend.objects.filter(user_id=user_id, month=month)
    if tightest is not None:
        rows = rows.filter(**_fits(tightest.amount, amount))
    if not rows.update(reserved_usd=F("reserved_usd") + amount):
        _refuse(user_id, month, Limits(own=tightest), amount, subject, advice)
    for group in limits.groups:  # sorted by id (limits_for)
        held = GroupMonthlySpend.objects.filter(
            group_id=group.group_id, month=month, **_fits(group.amount, amount)
        ).update(reserved_usd=F("reserved_usd") + amount)
        if not held:
            _refuse(user_id, month, Limits(groups=(group,)), amount, subject, advice)
    group_ids = tuple(group.group_id for group in limits.groups)
    row = BudgetReservation.objects.create(
        user_id=user_id,
        month=month,
        amount_usd=amount,
        batch_job_id=batch_job_id,
        group_ids=list(group_ids),
    )
    return Reservation(row.pk, user_id, month, amount, group_ids)


def _refuse(
    user_id: int, month: date, limits: Limits, amount: Decimal, subject: str, advice: str
) -> None:
    """Raise the refusal of the one budget that did not fit, in plain words."""
    current = _status(user_id, month, limits)
    if current.exhausted:
        raise BudgetExceeded(_exhausted_message(current), exhausted=True)
    raise BudgetExceeded(
        f"{subject} could cost up to {_money(amount)}, and {_money(current.remaining)} "
        f"of {current.budget.words} of {_money(current.limit)} is left. {advice}"
    )


def release(reservation: Reservation | None) -> None:
    """Give a reservation back (the call's actual cost is added by ``record_call``).

    Call it in the transaction that records the call, so the month never counts both or
    neither. Releasing twice is harmless.
    """
    if reservation is None:
        return
    deleted, _ = BudgetReservation.objects.filter(pk=reservation.pk).delete()
    if deleted:
        _give_back(reservation, reservation.amount)


def _give_back(reservation: Reservation, amount: Decimal) -> None:
    MonthlySpend.objects.filter(user_id=reservation.user_id, month=reservation.month).update(
        reserved_usd=F("reserved_usd") - amount
    )
    for group_id in sorted(reservation.group_ids):
        GroupMonthlySpend.objects.filter(group_id=group_id, month=reservation.month).update(
            reserved_usd=F("reserved_usd") - amount
        )


def _reservation(row: BudgetReservation) -> Reservation:
    return Reservation(
        row.pk, row.user_id, row.month, row.amount_usd, tuple(row.group_ids or ())
    )


def lock_batch_reservation(job_id: int) -> Reservation | None:
    """A batch job's reservation, locked until the transaction ends (None: nothing held).

    Lock it *before* reading what the job still needs: concurrent settlers then take turns,
    and each reads the others' committed outcomes.
    """
    row = BudgetReservation.objects.select_for_update().filter(batch_job_id=job_id).first()
    return None if row is None else _reservation(row)


def shrink(reservation: Reservation, still_needed: Decimal) -> None:
    """Hold only ``still_needed`` of a (locked) reservation; nothing left frees it entirely.

    Run it in the transaction that records the outcomes that made the rest unnecessary; it
    only ever gives back, so calling it again with the same need changes nothing.
    """
    if still_needed <= 0:  # (a job of an unpriced model holds nothing, but has its row)
        release(reservation)
        return
    freed = reservation.amount - still_needed
    if freed > 0:
        BudgetReservation.objects.filter(pk=reservation.pk).update(amount_usd=still_needed)
        _give_back(reservation, freed)


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
    month = month_of(at)
    _add(MonthlySpend, amount, user_id=user_id, month=month)
    if group_ids is None:
        group_ids = GroupPolicy.objects.filter(
            group__user=user_id, monthly_limit_usd__isnull=False
        ).values_list("group_id", flat=True)
    for group_id in sorted(group_ids):
        _add(GroupMonthlySpend, amount, group_id=group_id, month=month)


def _add(table, amount: Decimal, **key: Any) -> None:
    added = F("spent_usd") + amount
    # The month's row usually exists: one UPDATE; the month's first call inserts it already
    # holding the amount (no read); if another first call inserted it meanwhile, the UPDATE.
    row = table.objects.filter(**key)
    if not row.update(spent_usd=added) and not daily_usage.insert_first(
        table, spent_usd=amount, **key
    ):
        row.update(spent_usd=added)


def _release_stale(user_id: int) -> None:
    """With several processes nobody knows at start-up whose reservations are still held;
    the user's next reservation frees those no call can still need."""
    old = BudgetReservation.objects.filter(
        user_id=user_id, created_at__lt=timezone.now() - STALE_AFTER, batch_job__isnull=True
    ).select_for_update()
    for row in old:
        release(_reservation(row))


@transaction.atomic
def release_all_open() -> int:
    """At start-up of the single-process setup no call can be in flight: free what a stopped
    process left reserved (batch jobs' reservations outlive processes: they stay)."""
    rows = list(BudgetReservation.objects.filter(batch_job__isnull=True).select_for_update())
    for row in rows:
        release(_reservation(row))
    return len(rows)


def _worst_case(model_id: str, prompt_tokens: int, max_tokens: int) -> Decimal | None:
    bands = prices.rates_in_force(model_id)
    if not bands:
        return None
    return worst_case_cost(bands, prompt_tokens=prompt_tokens, max_output_tokens=max_tokens)


def _limit_unless_exhausted(user_id: int) -> Decimal | None:
    """The limit nearest (None: not limited); at 100% of any budget the refusal, before even
    a count."""
    limits = limits_for(user_id)
    if not limits.limited:  # no budget applies: the month's spend does not matter here
        return None
    current = _status(user_id, month_of(), limits)
    if current.exhausted:
        raise BudgetExceeded(_exhausted_message(current), exhausted=True)
    return current.limit


# A call is first reserved on its prompt's local upper bound (chatapp/claude/token_bounds.py),
# doubled:
# while the month has room to spare that needs no count_tokens round trip before the call.
# When even that does not fit, the prompt is counted exactly and the exact worst case decides,
# so a bound that ran short could never take the month past its budget.
BOUND_MARGIN = 2


def _reserve_worst_case(
    user_id: int, request: dict[str, Any], prompt_tokens: int, subject: str, advice: str
) -> Reservation | None:
    amount = _worst_case(request["model"], prompt_tokens, request["max_tokens"])
    return reserve(user_id, amount or Decimal(0), subject=subject, advice=advice)


async def reserve_for_request(
    user_id: int,
    request: dict[str, Any],
    *,
    subject: str = "This reply",
    advice: str = REPLY_ADVICE,
    prompt_bound: int | None = None,
) -> Reservation | None:
    """Reserve the worst case of one Messages API request, before it is sent.

    ``prompt_bound`` (an upper bound on the prompt's tokens the caller knows, e.g. the
    context guard's) or, for a request without documents, ``token_bounds.request_bound``
    spares the count while the budget clearly has room; otherwise the API's free count_tokens
    sizes the prompt (raises ``UpstreamError`` if that fails). A model without a price
    reserves nothing, but is still refused at 100%.
    """
    bound = prompt_bound if prompt_bound is not None else token_bounds.request_bound(request)
    if bound is None:  # a count is needed: not when unlimited, nor at 100%
        if await database_sync_to_async(_limit_unless_exhausted)(user_id) is None:
            return None  # not limited: spare the count
    else:
        # ``reserve`` reads the limit itself (None: not limited, nothing held) and refuses at
        # 100%: no separate check first (two statements and a turn on the ORM thread fewer
        # per call, issue 18).
        try:
            return await database_sync_to_async(_reserve_worst_case)(
                user_id, request, bound * BOUND_MARGIN, subject, advice
            )
        except BudgetExceeded as exc:
            if exc.exhausted:
                raise
            # close to the limit: the exact size decides
    prompt_tokens = await claude_messages.count_tokens(request)
    return await database_sync_to_async(_reserve_worst_case)(
        user_id, request, prompt_tokens, subject, advice
    )


class CallBudget:
    """The reservations of one reply (or one title, summary or routing call), each call
    reserving its worst case before it is sent; the write that records the calls releases
    them all. ``subject`` and ``advice`` word a refusal."""

    def __init__(
        self,
        user_id: int,
        *,
        subject: str = "This reply",
        advice: str = REPLY_ADVICE,
        prompt_size: Callable[[], int | None] | None = None,
    ) -> None:
        self.user_id = user_id
        self.subject, self.advice = subject, advice
        # The size of the prompt about to be sent, when the caller knows it (the reply's
        # context guard sized it, documents included): no count of the budget's own.
        self.prompt_size = prompt_size
        self.held: list[Reservation] = []
        # The groups whose whole-group budgets the calls were held against: their months
        # count the calls' cost too (kept after the release, which comes first).
        self.group_ids: set[int] = set()

    async def before_call(self, request: dict[str, Any]) -> None:
        try:
            reservation = await reserve_for_request(
                self.user_id,
                request,
                subject=self.subject,
                advice=self.advice,
                prompt_bound=self.prompt_size() if self.prompt_size else None,
            )
        except BudgetExceeded as exc:
            metrics.budget_refused("call")
            raise UpstreamError(exc.code, exc.message) from None
        if reservation is not None:
            self.held.append(reservation)
            self.group_ids.update(reservation.group_ids)

    def release_all(self) -> None:
        """Synchronous: run it in the transaction that records the reply's calls."""
        for reservation in self.held:
            release(reservation)
        self.held.clear()
