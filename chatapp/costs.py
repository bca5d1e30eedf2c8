"""The cost review's queries: who spent what, on which model, on which day.

Every figure is added up by the database (``annotate``/``Sum`` over ``UsageRecord``); Python
only lays out the few aggregated rows. Costs and savings were priced when each call was made
(``accounting.record_call``), so these sums never re-price history. A call to a model without
a price has no cost: it is counted as *unpriced*, never as zero.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from chatapp.models import Budget, Conversation, Message, UsageRecord

MONEY = DecimalField(max_digits=20, decimal_places=8)


class InvalidRange(ValueError):
    """The dates asked for make no range; the message says why in plain words."""


@dataclass(frozen=True)
class DateRange:
    """Whole days, both ends included, in UTC (the zone months and budgets are counted in)."""

    start: date
    end: date

    @classmethod
    def this_month(cls, today: date | None = None) -> "DateRange":
        today = today or timezone.localdate()
        return cls(today.replace(day=1), today)

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> "DateRange":
        """From ``YYYY-MM-DD`` strings; a missing end is today, a missing start the 1st."""
        default = cls.this_month()
        first = _parse_day(start, "start") if start else None
        last = _parse_day(end, "end") if end else default.end
        first = first or last.replace(day=1)
        if first > last:
            raise InvalidRange("The start date is after the end date.")
        if (last - first).days > 3660:
            raise InvalidRange("Pick a range of at most ten years.")
        return cls(first, last)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.get_current_timezone())

    @property
    def until(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return self.since + timedelta(days=(self.end - self.start).days + 1)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def months(self) -> int:
        """Calendar months the range touches: what a monthly budget is multiplied by."""
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def as_query(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRange(f"The {name} date must look like 2026-11-30.") from None


class UTCDay(Func):
    """The calendar day (UTC) of a timestamp, computed by the database itself.

    Django's ``TruncDate`` on SQLite calls a Python function for every row, which is what a
    million rows cannot afford; SQLite stores timestamps as ISO text in UTC.
    """

    output_field = DateField()

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL
        return super().as_sql(
            compiler, connection, template="(%(expressions)s AT TIME ZONE 'UTC')::date", **extra
        )

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(
            compiler, connection, template="date(substr(%(expressions)s, 1, 10))", **extra
        )


def usage_between(period: DateRange) -> QuerySet[UsageRecord]:
    return UsageRecord.objects.filter(created_at__gte=period.since, created_at__lt=period.until)


def usage_sums() -> dict[str, Any]:
    """The aggregate columns every table shows."""
    return {
        "requests": Count("id"),
        "input_tokens": Coalesce(Sum("input_tokens"), 0),
        "output_tokens": Coalesce(Sum("output_tokens"), 0),
        "cache_write_tokens": Coalesce(
            Sum(F("cache_write_5m_tokens") + F("cache_write_1h_tokens")), 0
        ),
        "cache_read_tokens": Coalesce(Sum("cache_read_tokens"), 0),
        # NULL when every call was unpriced: "no known cost", not "free".
        "cost": Sum("cost_usd"),
        "unpriced": Count("id", filter=Q(cost_usd__isnull=True)),
        "cache_savings": Coalesce(Sum("cache_savings_usd"), Value(Decimal(0)), output_field=MONEY),
        "batch_savings": Coalesce(Sum("batch_savings_usd"), Value(Decimal(0)), output_field=MONEY),
    }


# --- per user ------------------------------------------------------------------------------

USER_ORDERS = {
    "user": "user__username",
    "requests": "requests",
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_write": "cache_write_tokens",
    "cache_read": "cache_read_tokens",
    "cost": "cost",
    "cache_savings": "cache_savings",
    "batch_savings": "batch_savings",
    "budget": "budget",
    "share": "share_used",
}
DEFAULT_USER_ORDER = "-cost"


def user_order(value: str | None) -> str:
    """A sort key from the page's ``o`` parameter (unknown keys sort by cost, highest first)."""
    key = (value or "").removeprefix("-")
    if key not in USER_ORDERS:
        return DEFAULT_USER_ORDER
    return ("-" if (value or "").startswith("-") else "") + key


def _budget_of_user() -> Coalesce:
    own = Budget.objects.filter(user=OuterRef("user")).values("monthly_usd")[:1]
    default = Budget.objects.filter(user__isnull=True).values("monthly_usd")[:1]
    return Coalesce(Subquery(own), Subquery(default), output_field=MONEY)


def per_user(period: DateRange, order: str = DEFAULT_USER_ORDER) -> QuerySet:
    """One row per user who made calls in the range, with their budget and share used."""
    key = user_order(order)
    field = USER_ORDERS[key.removeprefix("-")]
    rows = (
        usage_between(period)
        .values("user", "user__username")
        .annotate(**usage_sums())
        .annotate(budget=_budget_of_user())
        .annotate(
            share_used=Case(
                When(
                    budget__gt=0,
                    then=ExpressionWrapper(
                        Coalesce(F("cost"), Value(Decimal(0)), output_field=MONEY)
                        / (F("budget") * Value(Decimal(period.months))),
                        output_field=MONEY,
                    ),
                ),
                default=None,
                output_field=MONEY,
            )
        )
    )
    direction = "-" if key.startswith("-") else ""
    nulls = {"nulls_last": True} if direction else {"nulls_first": True}
    ordering = F(field).desc(**nulls) if direction else F(field).asc(**nulls)
    return rows.order_by(ordering, "user")


def totals(period: DateRange) -> dict[str, Any]:
    return usage_between(period).aggregate(**usage_sums(), users=Count("user", distinct=True))


# --- per model and per day --------------------------------------------------------------------


def per_model(period: DateRange) -> QuerySet:
    return (
        usage_between(period)
        .values("model")
        .annotate(**usage_sums())
        .order_by(F("cost").desc(nulls_last=True), "model")
    )


def cost_by_day_and_model(period: DateRange) -> QuerySet:
    """Rows of (day, model, cost, requests, unpriced) for the chart."""
    return (
        usage_between(period)
        .annotate(day=UTCDay("created_at"))
        .values("day", "model")
        .annotate(cost=Sum("cost_usd"), requests=Count("id"))
        .order_by("day", "model")
    )


# --- drill-down --------------------------------------------------------------------------------


def user_conversations(period: DateRange, user_id: int) -> QuerySet:
    """The user's spend in the range by conversation (a deleted one's calls under None)."""
    title = Coalesce(
        F("conversation__title"), Value(""), output_field=CharField()
    )
    return (
        usage_between(period)
        .filter(user_id=user_id)
        .values("conversation")
        .annotate(**usage_sums(), title=title)
        .order_by(F("cost").desc(nulls_last=True), "conversation")
    )


def conversation_messages(conversation_id: int) -> QuerySet[Message]:
    return Message.objects.filter(conversation_id=conversation_id).order_by("id")


def conversation_other_calls(conversation_id: int) -> QuerySet[UsageRecord]:
    """Calls made for a conversation but for no message of it (titles, summaries…)."""
    return UsageRecord.objects.filter(conversation_id=conversation_id, message__isnull=True)


def get_user(user_id: int):
    return get_user_model().objects.filter(pk=user_id).first()


def get_conversation(conversation_id: int) -> Conversation | None:
    return Conversation.objects.select_related("owner").filter(pk=conversation_id).first()
