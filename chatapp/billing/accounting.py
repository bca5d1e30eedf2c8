"""Record and price every call that reached Claude.

The price in force when the usage arrives is looked up here and applied by
``chatapp.claude.pricing``; the cost and its breakdown are stored on the record, so a later
price edit never rewrites history, and so are what caching and batching saved. The same
transaction adds the cost to the user's month (``budgets``) and the call to its day's sums
(``daily_usage``). A model with no price row is recorded as unpriced (``cost_usd`` None),
never as free. Synchronous: call through ``database_sync_to_async``.
"""

from collections.abc import Iterable

from django.db import transaction

from chatapp.billing import budgets, daily_usage, prices
from chatapp.claude.pricing import (
    CostBreakdown,
    PriceRates,
    batch_savings,
    cache_savings,
    price_usage,
)
from chatapp.claude.types import Usage
from chatapp.models import UsageRecord
from chatapp.operations import metrics


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
    group_ids: Iterable[int] | None = None,
) -> UsageRecord:
    """Price one call, store its usage record and count it towards the user's month.

    ``group_ids``: the groups whose whole-group budgets the call was held against (None:
    looked up).
    ``estimated``: the whole usage is an estimate (recorded from a reply's last checkpoint
    after its process died, chatapp/replies/checkpoints.py): its breakdown says ``estimated``."""
    rates = prices.rates_for(model_id, usage)
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
        budgets.add_spend(user_id, record.cost_usd, record.created_at, group_ids)
        daily_usage.add(record)
        metrics.usage_recorded(record)
    return record
