"""Record and price every call that reached Claude.

The price in force when the usage arrives is looked up here and applied by
``chatapp.claude.pricing``; the cost and its breakdown are stored on the record, so a later
price edit never rewrites history, and so are what caching and batching saved. The same
transaction adds the cost to the user's month (``budgets``) and the call to its day's sums
(``daily_usage``). A model with no price row is recorded as unpriced (``cost_usd`` None),
never as free. Synchronous: call through ``database_sync_to_async``.
"""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from chatapp import budgets, daily_usage
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


def rates_in_force(model_id: str, at: datetime | None = None) -> list[PriceRates]:
    """The price bands of ``model_id`` effective at ``at`` (empty if unpriced)."""
    at = at or timezone.now()
    latest = (
        ModelPrice.objects.filter(model_id=model_id, effective_from__lte=at)
        .order_by("-effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )
    if latest is None:
        return []
    rows = ModelPrice.objects.filter(model_id=model_id, effective_from=latest)
    return [_rates(row) for row in rows]


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
) -> UsageRecord:
    """Price one call, store its usage record and count it towards the user's month."""
    rates = _rates_for(model_id, usage)
    cost = price_usage(usage, rates, batch=batch) if rates else None
    savings = _savings_fields(rates, usage, batch)
    fields = usage_fields(usage, cost)
    if savings["cache_savings_usd"] is not None:
        # In the breakdown too: a reply shows what caching saved it, summed over its calls.
        fields["cost_breakdown"]["cache_saved"] = str(savings["cache_savings_usd"])
    with transaction.atomic():
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
    return record


def format_usd(amount: Decimal | None) -> str | None:
    """The protocol's representation: a decimal string, or None when unpriced."""
    if amount is None:
        return None
    return format(amount.normalize(), "f") if amount else "0"


def cheapest_model_id() -> str | None:
    """The active catalog model with the lowest input + output price in force now."""
    from chatapp.models import ClaudeModel

    best: tuple[Decimal, str] | None = None
    for model_id in ClaudeModel.objects.filter(is_active=True).values_list("pk", flat=True):
        bands = rates_in_force(model_id)
        if not bands:
            continue
        base = min(bands, key=lambda band: band.prompt_tokens_above)
        candidate = (base.input + base.output, model_id)
        if best is None or candidate < best:
            best = candidate
    return best[1] if best else None
