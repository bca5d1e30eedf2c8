"""Record and price every call that reached Claude.

The price in force when the usage arrives is looked up here and applied by
``chatapp.claude.pricing``; the cost and its breakdown are stored on the record, so a later
price edit never rewrites history. A model with no price row is recorded as unpriced
(``cost_usd`` None), never as free. Synchronous: call through ``database_sync_to_async``.
"""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from chatapp.claude.pricing import CostBreakdown, PriceRates, pick_band, price_usage
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
    return [
        PriceRates(
            input=row.input_per_mtok,
            output=row.output_per_mtok,
            cache_write_5m=row.cache_write_5m_per_mtok,
            cache_write_1h=row.cache_write_1h_per_mtok,
            cache_read=row.cache_read_per_mtok,
            batch_multiplier=row.batch_multiplier,
            web_search_per_thousand=row.web_search_per_thousand,
            prompt_tokens_above=row.prompt_tokens_above,
        )
        for row in rows
    ]


def cost_of(model_id: str, usage: Usage, *, batch: bool = False) -> CostBreakdown | None:
    bands = rates_in_force(model_id)
    if not bands:
        return None
    return price_usage(usage, pick_band(bands, usage.prompt_tokens), batch=batch)


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
    """Price one call and store its usage record."""
    cost = cost_of(model_id, usage, batch=batch)
    return UsageRecord.objects.create(
        user_id=user_id,
        purpose=purpose,
        model=model_id,
        request_id=request_id,
        conversation_id=conversation_id,
        message_id=message_id,
        is_batch=batch,
        **usage_fields(usage, cost),
    )


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
