"""What would it have cost: the cost review's strategy comparison. The range's recorded usage
(priced calls, added up by the database in one query) re-priced under each strategy at
today's prices, without calling the API: each tier, no caching, batching what could wait.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Case, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from chatapp.billing.prices import all_rates_in_force
from chatapp.claude import pricing
from chatapp.claude.types import Usage
from chatapp.cost_review.date_ranges import DateRange
from chatapp.cost_review.queries import daily_between
from chatapp.models import CallPurpose, ClaudeModel, ModelTier

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

