"""The cost review's queries: who spent what, on which model, on which day.

Every figure is added up by the database (``annotate``/``Sum``/``Subquery``): the tables over
the per-day sums (``DailyUsage``, kept as calls are recorded: a few thousand rows where there
are a million calls), the drill-down over one user's ``UsageRecord`` rows. Python only lays
out aggregated rows. Costs and savings were priced when each call was made
(``accounting.record_call``), so these sums never re-price history. A call to a model without
a price has no cost: it is counted as *unpriced*, never as zero.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
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

from chatapp.billing.prices import all_rates_in_force
from chatapp.claude import pricing
from chatapp.claude.types import Usage
from chatapp.models import (
    BatchItem,
    BatchItemStatus,
    Budget,
    CallPurpose,
    ClaudeModel,
    Conversation,
    DailyUsage,
    Message,
    ModelTier,
    UsageRecord,
)

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


def usage_between(period: DateRange) -> QuerySet[UsageRecord]:
    """The calls themselves: for drilling down into one user's."""
    return UsageRecord.objects.filter(created_at__gte=period.since, created_at__lt=period.until)


def daily_between(period: DateRange) -> QuerySet[DailyUsage]:
    """The calls added up per day (chatapp/billing/daily_usage.py): what the tables read."""
    return DailyUsage.objects.filter(day__gte=period.start, day__lte=period.end)


def usage_sums(*, per_call: bool = False) -> dict[str, Any]:
    """The aggregate columns every table shows, over daily rows or (``per_call``) records."""
    if per_call:
        counts = {"requests": Count("id"), "unpriced": Count("id", filter=Q(cost_usd__isnull=True))}
    else:
        # "unpriced" first: once "requests" names the sum, Sum("requests") would mean it.
        counts = {"unpriced": Coalesce(Sum("requests", filter=Q(priced=False)), 0),
                  "requests": Coalesce(Sum("requests"), 0)}
    return {
        **counts,
        "input_tokens": Coalesce(Sum("input_tokens"), 0),
        "output_tokens": Coalesce(Sum("output_tokens"), 0),
        "cache_write_tokens": Coalesce(
            Sum(F("cache_write_5m_tokens") + F("cache_write_1h_tokens")), 0
        ),
        "cache_read_tokens": Coalesce(Sum("cache_read_tokens"), 0),
        # NULL when every call was unpriced: "no known cost", not "free".
        "cost": Sum("cost_usd"),
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
        daily_between(period)
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
    return daily_between(period).aggregate(**usage_sums(), users=Count("user", distinct=True))


# --- per model and per day --------------------------------------------------------------------


def per_model(period: DateRange) -> QuerySet:
    return (
        daily_between(period)
        .values("model")
        .annotate(**usage_sums())
        .order_by(F("cost").desc(nulls_last=True), "model")
    )


def cost_by_day_and_model(period: DateRange) -> QuerySet:
    """Rows of (day, model, cost, requests) for the chart; cost None when unpriced."""
    return (
        daily_between(period)
        .values("day", "model", "priced")
        .annotate(cost=Sum("cost_usd"), requests=Sum("requests"))
        .order_by("day", "model")
    )


# --- drill-down --------------------------------------------------------------------------------


def user_conversations(period: DateRange, user_id: int) -> QuerySet:
    """The user's spend in the range by conversation. Calls of no conversation are split:
    ``batch`` True for their batch jobs' items (which belong to no conversation; per job in
    ``user_batch_jobs``), False for deleted conversations' calls."""
    title = Coalesce(
        F("conversation__title"), Value(""), output_field=CharField()
    )
    batch = Case(When(purpose=CallPurpose.BATCH, then=Value(True)), default=Value(False),
                 output_field=BooleanField())
    return (
        usage_between(period)
        .filter(user_id=user_id)
        .annotate(batch=batch)
        .values("conversation", "batch")
        .annotate(**usage_sums(per_call=True), title=title)
        .order_by(F("cost").desc(nulls_last=True), "conversation")
    )


def user_batch_jobs(period: DateRange, user_id: int) -> QuerySet:
    """The user's batch jobs with items answered in the range, and what those answers cost.

    From the items, which keep their usage and cost as recorded (a batch call's usage record
    names no job). A job deleted since is only in ``user_conversations``' batch row."""
    items = BatchItem.objects.filter(
        job__owner_id=user_id, status=BatchItemStatus.SUCCEEDED,
        completed_at__gte=period.since, completed_at__lt=period.until,
    )
    return (
        items.values("job", "job__prompt", "job__model", "job__created_at")
        .annotate(
            requests=Count("id"), unpriced=Count("id", filter=Q(cost_usd__isnull=True)),
            input_tokens=Coalesce(Sum("input_tokens"), 0),
            output_tokens=Coalesce(Sum("output_tokens"), 0),
            cache_write_tokens=Coalesce(
                Sum(F("cache_write_5m_tokens") + F("cache_write_1h_tokens")), 0),
            cache_read_tokens=Coalesce(Sum("cache_read_tokens"), 0),
            cost=Sum("cost_usd"),
        )
        .order_by(F("cost").desc(nulls_last=True), "-job")
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


# --- what would it have cost: the strategy comparison ----------------------------------------

# Calls whose answer nobody waits for: a title may come later; batch items already are.
COULD_WAIT = (CallPurpose.TITLE, CallPurpose.BATCH)
TIERS = (ModelTier.HAIKU, ModelTier.SONNET, ModelTier.OPUS)


@dataclass(frozen=True)
class Strategy:
    key: str
    label: str
    assumption: str


@dataclass(frozen=True)
class Comparison:
    """Each strategy's cost overall and per user, for priced calls in the range."""

    strategies: list[Strategy]
    overall: dict[str, Decimal]
    users: list[tuple[int, str, dict[str, Decimal]]]  # (id, name, costs), dearest first
    unpriced: int
    wait_share: Decimal

    def rows(self, costs_by_key: dict[str, Decimal]) -> list[dict[str, Any]]:
        actual = costs_by_key[pricing.ACTUAL]
        return [
            {"strategy": s, "cost": costs_by_key[s.key], "difference": costs_by_key[s.key] - actual}
            for s in self.strategies
        ]


def strategy_groups(period: DateRange) -> QuerySet:
    """Priced calls added up by user and by everything re-pricing looks at."""
    return (
        daily_between(period)
        .filter(priced=True)
        .annotate(
            could_wait=Case(When(purpose__in=COULD_WAIT, then=Value(True)), default=Value(False),
                            output_field=BooleanField()),
        )
        .values("user", "model", "is_batch", "could_wait", "band_floor")
        .annotate(
            requests=Sum("requests"),
            input=Sum("input_tokens"),
            output=Sum("output_tokens"),
            write_5m=Sum("cache_write_5m_tokens"),
            write_1h=Sum("cache_write_1h_tokens"),
            read=Sum("cache_read_tokens"),
            searches=Sum("web_search_requests"),
            cost=Sum("cost_usd"),
            saved=Sum("cache_savings_usd"),
        )
        .order_by()
    )


def _group(row: dict[str, Any]) -> pricing.UsageGroup:
    return pricing.UsageGroup(
        model=row["model"], batch=row["is_batch"], could_wait=row["could_wait"],
        band_floor=row["band_floor"], requests=row["requests"],
        usage=Usage(input_tokens=row["input"], output_tokens=row["output"],
                    cache_write_5m_tokens=row["write_5m"], cache_write_1h_tokens=row["write_1h"],
                    cache_read_tokens=row["read"], web_search_requests=row["searches"]),
        cost=row["cost"], cache_savings=row["saved"],
    )


def tier_models(priced: set[str]) -> list[ClaudeModel]:
    """Each tier's first active, priced model of today's catalog (the catalog's own order)."""
    chosen = {}
    for model in ClaudeModel.objects.filter(is_active=True, pk__in=priced):
        chosen.setdefault(model.tier, model)
    return [chosen[tier] for tier in TIERS if tier in chosen]


def _strategies(tiers: list[ClaudeModel], wait_share: Decimal) -> list[Strategy]:
    share = f"{wait_share * 100:.0f}%"
    waiting = "titles and batch items" + (f", plus {share} of every other call" if wait_share
                                          else "")
    return [
        Strategy(pricing.ACTUAL, "As it actually ran",
                 "The cost recorded for each call, at the prices in force when it was made."),
        *[Strategy(f"tier:{m.pk}", f"Everything on {m.display_name}",
                   f"Every priced call on {m.pk} at today's prices, with the same input, output "
                   "and cache tokens and the same batch use. Another tier would write replies "
                   "of other lengths, and models from 4.7 on count about 30% more tokens for "
                   "the same text.") for m in tiers],
        Strategy(pricing.NO_CACHING, "Without prompt caching",
                 "Every cache read and write billed as plain input at the price of its call."),
        Strategy(pricing.BATCH, "Batch what could wait (no caching)",
                 f"Without caching; {waiting} sent through the Batch API at the batch discount "
                 "(today's multiplier; web searches are not discounted)."),
        Strategy(pricing.CACHING_AND_BATCH, "Caching plus batch",
                 f"Caching as it ran; {waiting} sent through the Batch API at the batch "
                 "discount."),
    ]


def _today_prices(
    tiers: list[ClaudeModel], rates: dict[str, list[pricing.PriceRates]]
) -> pricing.StrategyPrices:
    base = {m: min(bands, key=lambda band: band.prompt_tokens_above) for m, bands in rates.items()}
    return pricing.StrategyPrices(
        tiers={f"tier:{m.pk}": rates[m.pk] for m in tiers},
        batch_multipliers={m: rates.batch_multiplier for m, rates in base.items()},
        web_search_per_thousand={m: rates.web_search_per_thousand for m, rates in base.items()},
    )


def compare_strategies(
    period: DateRange, *, wait_share: Decimal = Decimal(0), top_users: int | None = 50
) -> Comparison:
    """Re-price the range's recorded usage under each strategy, without calling the API:
    one aggregate query, then one pass over its rows."""
    rates = all_rates_in_force()
    tiers = tier_models(set(rates))
    by_user: dict[int, list[pricing.UsageGroup]] = {}
    for row in strategy_groups(period):
        by_user.setdefault(row["user"], []).append(_group(row))
    prices = _today_prices(tiers, rates)
    per_user = {
        user: pricing.strategy_costs(groups, prices, wait_share=wait_share)
        for user, groups in by_user.items()
    }
    overall = pricing.strategy_costs(
        [g for groups in by_user.values() for g in groups], prices, wait_share=wait_share
    )
    ranked = sorted(per_user, key=lambda user: (-per_user[user][pricing.ACTUAL], user))
    shown = ranked if top_users is None else ranked[:top_users]
    names = dict(get_user_model().objects.filter(pk__in=shown).values_list("pk", "username"))
    return Comparison(
        strategies=_strategies(tiers, wait_share),
        overall=overall,
        users=[(user, names.get(user, f"#{user}"), per_user[user]) for user in shown],
        unpriced=daily_between(period).filter(priced=False).aggregate(
            n=Coalesce(Sum("requests"), 0))["n"],
        wait_share=wait_share,
    )


def conversation_cost(conversation_id: int) -> Decimal | None:
    """What a conversation has cost its owner: every reply (all its attempts) plus the calls
    made for it besides replies (its title, summaries of earlier turns, Auto's routing).
    Imported replies show what the original account paid; the owner paid none of it."""
    replies = (
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(options__has_key="imported")
        .aggregate(total=Sum("cost_usd"))["total"]
    )
    others = (
        UsageRecord.objects.filter(conversation_id=conversation_id)
        .exclude(purpose=CallPurpose.REPLY)
        .aggregate(total=Sum("cost_usd"))["total"]
    )
    if replies is None and others is None:
        return None
    return (replies or Decimal(0)) + (others or Decimal(0))
