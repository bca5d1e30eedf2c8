"""What a model costs now: the price bands in force, remembered per process, and the cheapest
active model (the one titles are written by). Synchronous: call through ``database_sync_to_async``.
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from chatapp.billing import daily_usage
from chatapp.claude.pricing import CostBreakdown, PriceRates, pick_band, price_usage
from chatapp.claude.types import Usage
from chatapp.models import ClaudeModel, ModelPrice

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


def rates_for(model_id: str, usage: Usage) -> PriceRates | None:
    bands = rates_in_force(model_id)
    return pick_band(bands, usage.prompt_tokens) if bands else None


def cost_of(model_id: str, usage: Usage, *, batch: bool = False) -> CostBreakdown | None:
    rates = rates_for(model_id, usage)
    return price_usage(usage, rates, batch=batch) if rates else None


# The title model (the cheapest active one) is asked after every first reply; it depends only
# on catalog data, so it is remembered like the prices: forgotten with them (a price saved, the
# catalog synced) and re-read at least every PRICE_CACHE_SECONDS or when a price takes effect.
_cheapest: tuple[int, datetime, str | None] | None = None


def cheapest_model_id(among: QuerySet[ClaudeModel] | None = None) -> str | None:
    """The active catalog model with the lowest input + output price in force now (only
    ``among`` those models, when given: e.g. the ones a user's groups allow).

    One query: every price row of the active models (a few dozen rows).
    """
    return _cheapest_at(timezone.now(), among)[0]


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


def _cheapest_at(
    now: datetime, among: QuerySet[ClaudeModel] | None = None
) -> tuple[str | None, datetime | None]:
    """(the cheapest active model at ``now``, when the next of their prices takes effect)."""
    rows_by_model: dict[str, list[ModelPrice]] = {}
    rows = ModelPrice.objects.filter(model__is_active=True)
    if among is not None:
        rows = rows.filter(model__in=among)
    for row in rows:
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
