"""Usage records added up per UTC day: what the cost review reads.

A million calls are too many to add up on every page view (SQLite needs seconds for that), so
each call is also added to its ``DailyUsage`` row as it is recorded — one UPDATE in the same
transaction — and the review sums a few thousand such rows. ``rebuild`` recomputes the rows
from the records (after a bulk import, or to check them); both ways give the same sums.
Synchronous (ORM).
"""

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    F,
    Func,
    IntegerField,
    Model,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from chatapp.billing import counters
from chatapp.models import DailyUsage, ModelPrice, UsageRecord

KEY = ("day", "user", "model", "purpose", "is_batch", "band_floor", "priced")
MONEY = DailyUsage._meta.get_field("cost_usd")
TOKENS = ("input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
          "cache_read_tokens", "web_search_requests")


class UTCDay(Func):
    """The calendar day (UTC) of a timestamp, computed by the database itself.

    Django's ``TruncDate`` on SQLite calls a Python function for every row; SQLite stores
    timestamps as ISO text in UTC, so the day is its first ten characters.
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


def thresholds() -> list[int]:
    """Every prompt size at which some model's price changes, largest first."""
    found = ModelPrice.objects.filter(prompt_tokens_above__gt=0).values_list(
        "prompt_tokens_above", flat=True
    )
    return sorted(set(found), reverse=True)


def band_floor(prompt_tokens: int, limits: Sequence[int]) -> int:
    """The largest threshold the whole prompt exceeded (0 when none)."""
    return next((limit for limit in sorted(limits, reverse=True) if prompt_tokens > limit), 0)


def band_floor_in_db(limits: Sequence[int]) -> Case:
    """``band_floor`` as a database expression over a usage record's columns."""
    prompt = (
        F("input_tokens") + F("cache_write_5m_tokens") + F("cache_write_1h_tokens")
        + F("cache_read_tokens")
    )
    return Case(
        *[When(GreaterThan(prompt, t), then=Value(t)) for t in sorted(limits, reverse=True)],
        default=Value(0),
        output_field=IntegerField(),
    )


def _day(at: datetime) -> date:
    return at.astimezone(UTC).date() if timezone.is_aware(at) else at.date()


# The thresholds change only with the price table: remembered per process, forgotten when a
# price is saved here (``prices.forget_prices``, on ModelPrice's signals) and re-read at
# least this often for saves in other processes.
THRESHOLDS_CACHE_SECONDS = 60
_thresholds: tuple[float, list[int]] | None = None


def forget_thresholds() -> None:
    global _thresholds
    _thresholds = None


def _current_thresholds() -> list[int]:
    global _thresholds
    now = time.monotonic()
    if _thresholds is None or now - _thresholds[0] > THRESHOLDS_CACHE_SECONDS:
        _thresholds = (now, thresholds())
    return _thresholds[1]


def add(record: UsageRecord) -> None:
    """Count one recorded call into its day's row (call it in the recording transaction)."""
    prompt = (record.input_tokens + record.cache_write_5m_tokens + record.cache_write_1h_tokens
              + record.cache_read_tokens)
    key = {
        "day": _day(record.created_at), "user_id": record.user_id, "model": record.model,
        "purpose": record.purpose, "is_batch": record.is_batch,
        "band_floor": band_floor(prompt, _current_thresholds()),
        "priced": record.cost_usd is not None,
    }
    # Only the sums this call adds to: a column plus 0 is left out of the UPDATE (most calls
    # have no cache writes, web searches or savings; issue 18).
    changes = {name: getattr(record, name) for name in TOKENS if getattr(record, name)}
    changes["requests"] = 1
    if record.cost_usd is not None:
        changes["cost_usd"] = record.cost_usd
        for name in ("cache_savings_usd", "batch_savings_usd"):
            if getattr(record, name):
                changes[name] = getattr(record, name)
    # The day's row usually exists: one UPDATE; the day's first call of its kind inserts it
    # already holding the call (no read); if another first call inserted it meanwhile, the
    # UPDATE again.
    if not counters.add_to(DailyUsage, key, changes) and not insert_first(
        DailyUsage, **key, **_first_values(record)
    ):
        counters.add_to(DailyUsage, key, changes)


def _first_values(record: UsageRecord) -> dict:
    """A new row's sums when ``record`` is its first call (what ``changes`` adds to zero)."""
    values = {name: getattr(record, name) for name in TOKENS}
    values["requests"] = 1
    if record.cost_usd is not None:
        values["cost_usd"] = record.cost_usd
        values["cache_savings_usd"] = record.cache_savings_usd or 0
        values["batch_savings_usd"] = record.batch_savings_usd or 0
    return values


def insert_first(table: type[Model], /, **fields: Any) -> bool:
    """Insert a counting row (a savepoint, one INSERT); False if a concurrent first call's
    row holds its unique key already (then the caller's UPDATE finds it)."""
    try:
        with transaction.atomic():
            table.objects.create(**fields)
    except IntegrityError:
        return False
    return True


def sums_from_records(records, limits: Sequence[int]):
    """The rows ``add`` would have made, added up by the database from ``records``."""
    zero = Value(0)
    return (
        records.annotate(
            day=UTCDay("created_at"),
            band_floor=band_floor_in_db(limits),
            priced=Case(When(cost_usd__isnull=True, then=Value(False)), default=Value(True),
                        output_field=BooleanField()),
        )
        .values(*KEY)
        .annotate(
            requests=Count("id"),
            cost_usd=Sum("cost_usd"),
            cache_savings_usd=Coalesce(Sum("cache_savings_usd"), zero, output_field=MONEY),
            batch_savings_usd=Coalesce(Sum("batch_savings_usd"), zero, output_field=MONEY),
            **{f"sum_{name}": Sum(name) for name in TOKENS},
        )
        .order_by()
    )


@transaction.atomic
def rebuild(since: date | None = None, *, daily=DailyUsage, records=UsageRecord,
            limits: Sequence[int] | None = None) -> int:
    """Recompute the rows from the records, for every day or from ``since`` on.

    The model classes can be passed in (a migration passes its historical ones).
    """
    limits = thresholds() if limits is None else limits
    old, source = daily.objects.all(), records.objects.all()
    if since is not None:
        old = old.filter(day__gte=since)
        source = source.filter(
            created_at__gte=datetime.combine(since, datetime.min.time(), tzinfo=UTC)
        )
    old.delete()
    rows = [
        daily(
            day=row["day"], user_id=row["user"], model=row["model"], purpose=row["purpose"],
            is_batch=row["is_batch"], band_floor=row["band_floor"], priced=row["priced"],
            requests=row["requests"], cost_usd=row["cost_usd"],
            cache_savings_usd=row["cache_savings_usd"], batch_savings_usd=row["batch_savings_usd"],
            **{name: row[f"sum_{name}"] or 0 for name in TOKENS},
        )
        for row in sums_from_records(source, limits).iterator(chunk_size=5000)
    ]
    daily.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
