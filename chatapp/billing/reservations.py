"""Reserve, then settle: before a call its worst-case cost is held against every budget that
applies (one conditional UPDATE per month row, in one transaction, so concurrent calls from any
number of tabs or processes never pass a budget); the write that records the call releases it.
A batch job's reservation shrinks as its documents are answered. Synchronous (ORM) except
``reserve_for_request`` and ``CallBudget.before_call``."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.utils import timezone

from chatapp.billing import budgets, limits, money, prices
from chatapp.claude import messages as claude_messages
from chatapp.claude import token_bounds
from chatapp.claude.pricing import worst_case_cost
from chatapp.claude.types import UpstreamError
from chatapp.models import (
    BudgetReservation,
    GroupMonthlySpend,
    MonthlySpend,
)
from chatapp.operations import metrics

# No call runs this long (8 tool rounds of a 10-minute timeout each would be 80 minutes): a
# reservation older than this was left by a process that died, and is freed.
STALE_AFTER = timedelta(hours=3)


@dataclass(frozen=True)
class Reservation:
    pk: int
    user_id: int
    month: date
    amount: Decimal
    group_ids: tuple[int, ...] = ()  # the whole-group budgets it is also held against


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
    advice: str = budgets.REPLY_ADVICE,
    batch_job_id: int | None = None,
) -> Reservation | None:
    """Hold ``amount`` against this month's budget, or raise ``budgets.BudgetExceeded``.

    None when the user's spending is not limited (nothing to hold; no transaction opened).
    ``subject`` and ``advice`` word the refusal ("This reply could cost up to …");
    ``batch_job_id`` ties the reservation to a batch job, which settles it (``shrink``)
    rather than a process.
    """
    applying = limits.limits_for(user_id)
    if not applying.limited:
        return None
    return _hold(user_id, applying, amount, at, subject, advice, batch_job_id)


def _fits(limit: Decimal, amount: Decimal) -> dict[str, Any]:
    """The WHERE of a conditional reservation: not at 100%, and ``amount`` still fits."""
    return {
        "spent_usd__lt": Value(limit) - F("reserved_usd"),
        "spent_usd__lte": Value(limit - amount) - F("reserved_usd"),
    }


@transaction.atomic
def _hold(
    user_id: int,
    applying: limits.Limits,
    amount: Decimal,
    at: datetime | None,
    subject: str,
    advice: str,
    batch_job_id: int | None,
) -> Reservation:
    month = limits.month_of(at)
    _spend_row(user_id, month)
    for group in applying.groups:
        _group_spend_row(group.group_id, month)
    _release_stale(user_id)
    # One statement checks and takes, per row: PostgreSQL re-evaluates the WHERE on the latest
    # row version when another transaction updated it first, SQLite runs writers one at a
    # time. The user's row first, then the groups' by id (one order: no deadlock); a refusal
    # anywhere rolls back what the transaction took before it.
    tightest = applying.tightest_on_user
    rows = MonthlySpend.objects.filter(user_id=user_id, month=month)
    if tightest is not None:
        rows = rows.filter(**_fits(tightest.amount, amount))
    if not rows.update(reserved_usd=F("reserved_usd") + amount):
        _refuse(user_id, month, limits.Limits(own=tightest), amount, subject, advice)
    for group in applying.groups:  # sorted by id (limits.limits_for)
        held = GroupMonthlySpend.objects.filter(
            group_id=group.group_id, month=month, **_fits(group.amount, amount)
        ).update(reserved_usd=F("reserved_usd") + amount)
        if not held:
            _refuse(user_id, month, limits.Limits(groups=(group,)), amount, subject, advice)
    group_ids = tuple(group.group_id for group in applying.groups)
    row = BudgetReservation.objects.create(
        user_id=user_id,
        month=month,
        amount_usd=amount,
        batch_job_id=batch_job_id,
        group_ids=list(group_ids),
    )
    return Reservation(row.pk, user_id, month, amount, group_ids)


def _refuse(
    user_id: int, month: date, applying: limits.Limits, amount: Decimal, subject: str, advice: str
) -> None:
    """Raise the refusal of the one budget that did not fit, in plain words."""
    current = budgets.status_of(user_id, month, applying)
    if current.exhausted:
        raise budgets.BudgetExceeded(budgets.exhausted_message(current), exhausted=True)
    raise budgets.BudgetExceeded(
        f"{subject} could cost up to {money.dollars(amount)}, and "
        f"{money.dollars(current.remaining)} "
        f"of {current.budget.words} of {money.dollars(current.limit)} is left. {advice}"
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
    advice: str = budgets.REPLY_ADVICE,
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
        if await database_sync_to_async(budgets.limit_unless_exhausted)(user_id) is None:
            return None  # not limited: spare the count
    else:
        # ``reserve`` reads the limit itself (None: not limited, nothing held) and refuses at
        # 100%: no separate check first (two statements and a turn on the ORM thread fewer
        # per call, issue 18).
        try:
            return await database_sync_to_async(_reserve_worst_case)(
                user_id, request, bound * BOUND_MARGIN, subject, advice
            )
        except budgets.BudgetExceeded as exc:
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
        advice: str = budgets.REPLY_ADVICE,
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
        except budgets.BudgetExceeded as exc:
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
