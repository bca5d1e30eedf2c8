"""Record and price every call that reached Claude.

The price in force when the usage arrives is looked up here and applied by
``chatapp.claude.pricing``; the cost and its breakdown are stored on the record, so a later
price edit never rewrites history, and so are what caching and batching saved. The same
transaction adds the cost to the user's month (``budgets``) and the call to its day's sums
(``daily_usage``). A model with no price row is recorded as unpriced (``cost_usd`` None),
never as free. Synchronous: call through ``database_sync_to_async``.
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from chatapp.billing import budgets, daily_usage
from chatapp.claude.pricing import (
    CostBreakdown,
    PriceRates,
    batch_savings,
    cache_savings,
    pick_band,
    price_usage,
)
from chatapp.claude.types import Usage
from chatapp.models import ModelPrice, UsageRecord
from chatapp.operations import metrics

# Prices in force are read on every priced call (and by the TTL choice, the estimate, the
# budget's reservation), so each process remembers them. An entry lasts until the next known
# price of its model takes effect, and never longer than this: a price saved by *another*
# process effective at once (or backdated) reaches this one within PRICE_CACHE_SECONDS. A save
# or delete in this process forgets everything at once (``forget_prices``, on signals).
PRICE_CACHE_SECONDS = 60


@dataclass(frozen=True)
class _Remembered:
    bands: tuple[PriceRates, ...]
    until: datetime


_remembered: dict[str, _Remembered] = {}
_generation = 0
_lock = threading.Lock()


def forget_prices(**_signal_kwargs: Any) -> None:
    """Forget every remembered price (a price row was saved or deleted, or the catalog was
    synced), the cheapest model, and the price bands' thresholds the day's sums are kept by."""
    global _generation
    with _lock:
        _generation += 1
        _remembered.clear()
    daily_usage.forget_thresholds()


def rates_in_force(model_id: str, at: datetime | None = None) -> list[PriceRates]:
    """The price bands of ``model_id`` effective at ``at`` (empty if unpriced).

    Now (``at`` None) is answered from the process's memory while it is valid; another moment
    is read from the price table.
    """
    if at is not None:
        return list(_bands_at(ModelPrice.objects.filter(model_id=model_id), at)[0])
    now = timezone.now()
    entry = _remembered.get(model_id)
    if entry is not None and now < entry.until:
        return list(entry.bands)
    generation = _generation
    bands, next_change = _bands_at(ModelPrice.objects.filter(model_id=model_id), now)
    until = now + timedelta(seconds=PRICE_CACHE_SECONDS)
    if next_change is not None:
        until = min(until, next_change)
    with _lock:
        # A save while we were reading may have made what we read stale: keep it only if not.
        if generation == _generation:
            _remembered[model_id] = _Remembered(bands, until)
    return list(bands)


def _bands_at(
    rows: Iterable[ModelPrice], at: datetime
) -> tuple[tuple[PriceRates, ...], datetime | None]:
    """The bands of one model's price rows in force at ``at``, and when the next takes effect."""
    rows = list(rows)
    latest = max((r.effective_from for r in rows if r.effective_from <= at), default=None)
    upcoming = min((r.effective_from for r in rows if r.effective_from > at), default=None)
    bands = tuple(_rates(r) for r in rows if latest is not None and r.effective_from == latest)
    return bands, upcoming


def _rates(row: ModelPrice) -> PriceRates:
    return PriceRates(
        input=row.input_per_mtok,
        output=row.output_per_mtok,
        cache_write_5m=row.cache_write_5m_per_mtok,
        cache_write_1h=row.cache_write_1h_per_mtok,
        cache_read=row.cache_read_per_mtok,
        batch_multiplier=row.batch_multiplier,
        web_search_per_thousand=row.web_search_per_thousand,
        prompt_tokens_above=row.prompt_tokens_above,
    )


def all_rates_in_force(at: datetime | None = None) -> dict[str, list[PriceRates]]:
    """Every priced model's bands in force at ``at``, from one query of the price table."""
    latest: dict[str, datetime] = {}
    bands: dict[str, list[PriceRates]] = {}
    rows = ModelPrice.objects.filter(effective_from__lte=at or timezone.now())
    for row in rows.order_by("model_id", "-effective_from"):
        if latest.setdefault(row.model_id, row.effective_from) == row.effective_from:
            bands.setdefault(row.model_id, []).append(_rates(row))
    return bands


def _rates_for(model_id: str, usage: Usage) -> PriceRates | None:
    bands = rates_in_force(model_id)
    return pick_band(bands, usage.prompt_tokens) if bands else None


def cost_of(model_id: str, usage: Usage, *, batch: bool = False) -> CostBreakdown | None:
    rates = _rates_for(model_id, usage)
    return price_usage(usage, rates, batch=batch) if rates else None


def _savings_fields(rates: PriceRates | None, usage: Usage, batch: bool) -> dict:
    if rates is None:
        return {"cache_savings_usd": None, "batch_savings_usd": None}
    return {
        "cache_savings_usd": cache_savings(usage, rates, batch=batch),
        "batch_savings_usd": batch_savings(usage, rates, batch=batch),
    }


def usage_fields(usage: Usage, cost: CostBreakdown | None) -> dict:
    """The ``UsageFields`` columns for a usage and its cost."""
    breakdown = cost.as_dict() if cost else {"unpriced": True}
    if usage.estimated:
        breakdown["output_estimated"] = True
    if usage.thinking_tokens:
        breakdown["thinking_tokens"] = usage.thinking_tokens
    return {
        **usage.as_dict(),
        "cost_usd": cost.total if cost else None,
        "cost_breakdown": breakdown,
    }


def record_call(
    *,
    user_id: int,
    purpose: str,
    model_id: str,
    usage: Usage,
    request_id: str = "",
    conversation_id: int | None = None,
    message_id: int | None = None,
    batch: bool = False,
    estimated: bool = False,
) -> UsageRecord:
    """Price one call, store its usage record and count it towards the user's month.

    ``estimated``: the whole usage is an estimate (recorded from a reply's last checkpoint
    after its process died, chatapp/replies/checkpoints.py): its breakdown says ``estimated``."""
    rates = _rates_for(model_id, usage)
    cost = price_usage(usage, rates, batch=batch) if rates else None
    savings = _savings_fields(rates, usage, batch)
    fields = usage_fields(usage, cost)
    if estimated:
        fields["cost_breakdown"]["estimated"] = True
    if savings["cache_savings_usd"] is not None:
        # In the breakdown too: a reply shows what caching saved it, summed over its calls.
        fields["cost_breakdown"]["cache_saved"] = str(savings["cache_savings_usd"])
    # No savepoint of its own inside a caller's transaction (a reply's final write, a title):
    # a failure here fails the caller's whole write anyway, and the SAVEPOINT and RELEASE were
    # two statements of every call (issue 18).
    with transaction.atomic(savepoint=False):
        record = UsageRecord.objects.create(
            user_id=user_id,
            purpose=purpose,
            model=model_id,
            request_id=request_id,
            conversation_id=conversation_id,
            message_id=message_id,
            is_batch=batch,
            web_search_requests=usage.web_search_requests,
            **savings,
            **fields,
        )
        budgets.add_spend(user_id, record.cost_usd, record.created_at)
        daily_usage.add(record)
        metrics.usage_recorded(record)
    return record


def format_usd(amount: Decimal | None) -> str | None:
    """The protocol's representation: a decimal string, or None when unpriced."""
    if amount is None:
        return None
    return format(amount.normalize(), "f") if amount else "0"


# The title model (the cheapest active one) is asked after every first reply; it depends only
# on catalog data, so it is remembered like the prices: forgotten with them (a price saved, the
# catalog synced) and re-read at least every PRICE_CACHE_SECONDS or when a price takes effect.
_cheapest: tuple[int, datetime, str | None] | None = None


def cheapest_model_id() -> str | None:
    """The active catalog model with the lowest input + output price in force now.

    One query: every price row of the active models (a few dozen rows).
    """
    return _cheapest_at(timezone.now())[0]


def remembered_cheapest_model_id() -> str | None:
    """``cheapest_model_id`` as the process remembers it (see ``_cheapest``): it may name a
    model deactivated since by an edit that forgot nothing; the caller checks."""
    global _cheapest
    now = timezone.now()
    remembered = _cheapest
    if remembered is not None and remembered[0] == _generation and now < remembered[1]:
        return remembered[2]
    generation = _generation
    best, next_change = _cheapest_at(now)
    until = now + timedelta(seconds=PRICE_CACHE_SECONDS)
    if next_change is not None:
        until = min(until, next_change)
    with _lock:
        if generation == _generation:
            _cheapest = (generation, until, best)
    return best


def _cheapest_at(now: datetime) -> tuple[str | None, datetime | None]:
    """(the cheapest active model at ``now``, when the next of their prices takes effect)."""
    rows_by_model: dict[str, list[ModelPrice]] = {}
    for row in ModelPrice.objects.filter(model__is_active=True):
        rows_by_model.setdefault(row.model_id, []).append(row)
    best: tuple[Decimal, str] | None = None
    next_change: datetime | None = None
    for model_id, rows in rows_by_model.items():
        bands, upcoming = _bands_at(rows, now)
        if upcoming is not None:
            next_change = upcoming if next_change is None else min(next_change, upcoming)
        if not bands:
            continue
        base = min(bands, key=lambda band: band.prompt_tokens_above)
        candidate = (base.input + base.output, model_id)
        if best is None or candidate < best:
            best = candidate
    return (best[1] if best else None), next_change
