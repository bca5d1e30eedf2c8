"""Usage × price → cost, in Decimal, with no database access.

Every rate is applied to its own token count: cache writes at their TTL's rate, cache reads
at the read rate, never derived from the input rate. Batch calls multiply every rate.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from chatapp.claude.types import Usage

MILLION = Decimal(1_000_000)
THOUSAND = Decimal(1000)
# Costs are stored to 8 decimal places (a millionth of a cent is plenty).
QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class PriceRates:
    """USD per million tokens for one model (one size band), plus per-search cost."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    batch_multiplier: Decimal = Decimal("0.5")
    web_search_per_thousand: Decimal = Decimal("10")
    prompt_tokens_above: int = 0


@dataclass(frozen=True)
class CostBreakdown:
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    web_search: Decimal

    @property
    def total(self) -> Decimal:
        return (
            self.input + self.output + self.cache_write_5m + self.cache_write_1h
            + self.cache_read + self.web_search
        )

    def as_dict(self) -> dict[str, str]:
        parts = {
            "input": self.input,
            "output": self.output,
            "cache_write_5m": self.cache_write_5m,
            "cache_write_1h": self.cache_write_1h,
            "cache_read": self.cache_read,
            "web_search": self.web_search,
            "total": self.total,
        }
        return {name: str(value) for name, value in parts.items()}


def pick_band(bands: Sequence[PriceRates], prompt_tokens: int) -> PriceRates:
    """The band whose threshold is the largest one the prompt exceeds.

    A tiered model bills *every* token of a request at the band its whole prompt falls in.
    """
    eligible = [band for band in bands if prompt_tokens > band.prompt_tokens_above]
    candidates = eligible or [min(bands, key=lambda band: band.prompt_tokens_above)]
    return max(candidates, key=lambda band: band.prompt_tokens_above)


def _part(tokens: int, per_mtok: Decimal, multiplier: Decimal) -> Decimal:
    return (Decimal(tokens) * per_mtok * multiplier / MILLION).quantize(QUANTUM)


def price_usage(usage: Usage, rates: PriceRates, *, batch: bool = False) -> CostBreakdown:
    """What one call cost."""
    multiplier = rates.batch_multiplier if batch else Decimal(1)
    return CostBreakdown(
        input=_part(usage.input_tokens, rates.input, multiplier),
        output=_part(usage.output_tokens, rates.output, multiplier),
        cache_write_5m=_part(usage.cache_write_5m_tokens, rates.cache_write_5m, multiplier),
        cache_write_1h=_part(usage.cache_write_1h_tokens, rates.cache_write_1h, multiplier),
        cache_read=_part(usage.cache_read_tokens, rates.cache_read, multiplier),
        web_search=(
            Decimal(usage.web_search_requests) * rates.web_search_per_thousand / THOUSAND
        ).quantize(QUANTUM),
    )


def cache_savings(usage: Usage, rates: PriceRates, *, batch: bool = False) -> Decimal:
    """What prompt caching saved on one call: its cached tokens at the plain input rate minus
    what they cost. Negative when the writes cost more than the reads saved."""
    multiplier = rates.batch_multiplier if batch else Decimal(1)
    cost = price_usage(usage, rates, batch=batch)
    cached_tokens = usage.cache_write_tokens + usage.cache_read_tokens
    as_plain_input = _part(cached_tokens, rates.input, multiplier)
    return as_plain_input - (cost.cache_write_5m + cost.cache_write_1h + cost.cache_read)


def batch_savings(usage: Usage, rates: PriceRates, *, batch: bool = False) -> Decimal:
    """What the batch discount saved on one call (nothing unless it was a batch item)."""
    if not batch:
        return Decimal(0)
    return price_usage(usage, rates).total - price_usage(usage, rates, batch=True).total


def worst_case_cost(
    bands: Sequence[PriceRates], *, prompt_tokens: int, max_output_tokens: int
) -> Decimal:
    """The most one call can cost, for a budget reservation.

    Every prompt token is taken at the dearest input-side rate (the prompt may be written to
    the 1-hour cache) and the reply at its full ``max_tokens``.
    """
    rates = pick_band(bands, prompt_tokens)
    dearest_input = max(rates.input, rates.cache_write_5m, rates.cache_write_1h)
    one = Decimal(1)
    return _part(prompt_tokens, dearest_input, one) + _part(max_output_tokens, rates.output, one)


# --- What would it have cost? Re-pricing recorded usage under other strategies ----------------


@dataclass(frozen=True)
class UsageGroup:
    """Priced calls added up, alike in everything re-pricing looks at.

    ``band_floor`` is the prompt size band the calls fell in: each call's whole prompt was
    larger than it (0 for the smallest band), so a tiered model prices the group at the band
    ``pick_band(bands, band_floor + 1)``.
    """

    model: str
    batch: bool
    could_wait: bool
    band_floor: int
    requests: int
    usage: Usage  # summed token counts and web searches
    cost: Decimal  # as recorded, at the prices in force back then
    cache_savings: Decimal  # as recorded: cached tokens at the plain input price minus cost


@dataclass(frozen=True)
class StrategyPrices:
    """Today's prices the comparison needs."""

    tiers: dict[str, Sequence[PriceRates]]  # a strategy key ("tier:<model>") → its bands
    batch_multipliers: dict[str, Decimal]  # model → its batch multiplier today
    web_search_per_thousand: dict[str, Decimal]  # model → what a search costs today


DEFAULT_BATCH_MULTIPLIER = Decimal("0.5")
ACTUAL = "actual"
NO_CACHING = "no_caching"
BATCH = "batch"
CACHING_AND_BATCH = "caching_and_batch"


def on_tier(group: UsageGroup, bands: Sequence[PriceRates]) -> Decimal:
    """The same tokens, cache use and batch status on another model at its prices."""
    rates = pick_band(bands, group.band_floor + 1)
    return price_usage(group.usage, rates, batch=group.batch).total


def _waiting_share(group: UsageGroup, wait_share: Decimal) -> Decimal:
    """How much of the group would have gone as a batch: all of what could wait, else the
    staff-chosen share; nothing that already went as a batch."""
    if group.batch:
        return Decimal(0)
    return Decimal(1) if group.could_wait else wait_share


def batched(
    group: UsageGroup, base: Decimal, prices: StrategyPrices, wait_share: Decimal
) -> Decimal:
    """``base`` (the group's cost with or without caching) with what could wait batched: the
    discount applies to every token category, never to web searches."""
    searches = (
        Decimal(group.usage.web_search_requests)
        * prices.web_search_per_thousand.get(group.model, Decimal(10))
        / THOUSAND
    )
    multiplier = prices.batch_multipliers.get(group.model, DEFAULT_BATCH_MULTIPLIER)
    discount = (base - searches) * (1 - multiplier) * _waiting_share(group, wait_share)
    return (base - discount).quantize(QUANTUM)


def strategy_costs(
    groups: Sequence[UsageGroup], prices: StrategyPrices, *, wait_share: Decimal = Decimal(0)
) -> dict[str, Decimal]:
    """What these calls cost, and would have cost under each strategy, in one pass."""
    totals = dict.fromkeys([ACTUAL, *prices.tiers, NO_CACHING, BATCH, CACHING_AND_BATCH],
                           Decimal(0))
    for group in groups:
        uncached = group.cost + group.cache_savings
        totals[ACTUAL] += group.cost
        for key, bands in prices.tiers.items():
            totals[key] += on_tier(group, bands)
        totals[NO_CACHING] += uncached
        totals[BATCH] += batched(group, uncached, prices, wait_share)
        totals[CACHING_AND_BATCH] += batched(group, group.cost, prices, wait_share)
    return totals


# --- Before sending: the composer's estimate ---------------------------------------------------


def prompt_usage(prompt_tokens: int, *, cached: int, ttl: str, cacheable: bool) -> Usage:
    """How a prompt is billed when its newest turn carries a cache breakpoint: the part the
    cache still holds is read, the rest written at ``ttl`` — unless the prompt is shorter
    than the model caches at all, when every token is plain input."""
    if not cacheable:
        return Usage(input_tokens=prompt_tokens)
    cached = min(cached, prompt_tokens)
    written = prompt_tokens - cached
    return Usage(
        cache_read_tokens=cached,
        cache_write_5m_tokens=written if ttl == "5m" else 0,
        cache_write_1h_tokens=written if ttl == "1h" else 0,
    )


def cost_range(
    bands: Sequence[PriceRates], prompt: Usage, *, expected_output: int, max_output: int
) -> tuple[Decimal, Decimal]:
    """(a typical reply, the longest reply ``max_tokens`` allows) for one prompt."""
    rates = pick_band(bands, prompt.prompt_tokens)

    def with_output(tokens: int) -> Decimal:
        return price_usage(prompt + Usage(output_tokens=tokens), rates).total

    return with_output(min(expected_output, max_output)), with_output(max_output)
