"""The cost review's queries: who spent what, on which model, on which day.

Every figure is added up by the database (``annotate``/``Sum``/``Subquery``): the tables over
the per-day sums (``DailyUsage``, kept as calls are recorded: a few thousand rows where there
are a million calls), the drill-down over one user's ``UsageRecord`` rows. Python only lays
out aggregated rows. Costs and savings were priced when each call was made
(``accounting.record_call``), so these sums never re-price history. A call to a model without
a price has no cost: it is counted as *unpriced*, never as zero.

The range asked about is a ``date_ranges.DateRange``; the strategy comparison is in
``strategies.py``.
"""

from dataclasses import dataclass, field
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

from chatapp.cost_review.date_ranges import DateRange
from chatapp.models import (
    BatchItem,
    BatchItemStatus,
    Budget,
    CallPurpose,
    Conversation,
    DailyUsage,
    GroupPolicy,
    Message,
    UsageRecord,
)

MONEY = DecimalField(max_digits=20, decimal_places=8)


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


def _share_used(period: DateRange) -> Case:
    """Cost over the row's monthly budget times the months the range touches (None without a
    budget): the users' and the groups' tables alike."""
    return Case(
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


def per_user(period: DateRange, order: str = DEFAULT_USER_ORDER) -> QuerySet:
    """One row per user who made calls in the range, with their budget and share used."""
    key = user_order(order)
    field = USER_ORDERS[key.removeprefix("-")]
    rows = (
        daily_between(period)
        .values("user", "user__username")
        .annotate(**usage_sums())
        .annotate(budget=_budget_of_user())
        .annotate(share_used=_share_used(period))
    )
    direction = "-" if key.startswith("-") else ""
    nulls = {"nulls_last": True} if direction else {"nulls_first": True}
    ordering = F(field).desc(**nulls) if direction else F(field).asc(**nulls)
    return rows.order_by(ordering, "user")


def totals(period: DateRange) -> dict[str, Any]:
    return daily_between(period).aggregate(**usage_sums(), users=Count("user", distinct=True))


# --- per group (issue 21) ------------------------------------------------------------------


def per_group(period: DateRange) -> QuerySet:
    """One row per group whose members made calls in the range: their sums, how many of them
    called, the group's whole-group budget and the share used. By today's membership: a user
    in two groups counts in both, one in none in no row."""
    budget = GroupPolicy.objects.filter(group=OuterRef("user__groups")).values(
        "monthly_limit_usd"
    )[:1]
    return (
        daily_between(period)
        .filter(user__groups__isnull=False)
        .values("user__groups", "user__groups__name")
        .annotate(**usage_sums(), members=Count("user", distinct=True))
        .annotate(budget=Subquery(budget, output_field=MONEY))
        .annotate(share_used=_share_used(period))
        .order_by(F("cost").desc(nulls_last=True), "user__groups__name")
    )


def group_names_by_user() -> dict[int, str]:
    """Each user's groups as one CSV cell ("legal; tax"), in one query."""
    memberships = get_user_model().groups.through.objects.order_by("group__name")
    names: dict[int, list[str]] = {}
    for user_id, name in memberships.values_list("user_id", "group__name"):
        names.setdefault(user_id, []).append(name)
    return {user_id: "; ".join(groups) for user_id, groups in names.items()}


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


# --- per project ------------------------------------------------------------------------------


@dataclass
class ProjectSpend:
    """A project's calls in the range: what they cost, what its shared cache saved, who asked."""

    project_id: int
    name: str
    requests: int = 0
    cost: Decimal | None = None
    cache_savings: Decimal = Decimal(0)
    askers: list[tuple[str, Decimal | None, int]] = field(default_factory=list)


def project_rows(period: DateRange) -> QuerySet:
    """One row per project and user who asked in it (one query): the calls of its
    conversations, priced as recorded."""
    return (
        usage_between(period).filter(conversation__project__isnull=False)
        .values("conversation__project", "conversation__project__name", "user__username")
        .annotate(requests=Count("id"), cost=Sum("cost_usd"),
                  cache_savings=Coalesce(Sum("cache_savings_usd"), Value(Decimal(0)),
                                         output_field=MONEY))
        .order_by("conversation__project__name", "conversation__project", "user__username")
    )


def per_project(period: DateRange) -> list[ProjectSpend]:
    """The projects with calls in the range, the most expensive first; each with who asked
    (and what their questions cost), the most expensive first."""
    projects: dict[int, ProjectSpend] = {}
    for row in project_rows(period):
        key = row["conversation__project"]
        spend = projects.setdefault(key, ProjectSpend(key, row["conversation__project__name"]))
        spend.requests += row["requests"]
        if row["cost"] is not None:
            spend.cost = (spend.cost or Decimal(0)) + row["cost"]
        spend.cache_savings += row["cache_savings"]
        spend.askers.append((row["user__username"], row["cost"], row["requests"]))
    for spend in projects.values():
        spend.askers.sort(key=lambda asker: (-(asker[1] or 0), asker[0]))
    return sorted(projects.values(), key=lambda spend: (-(spend.cost or 0), spend.name))


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
