"""The seeded price table, checked against an independent, maintained price list.

genai-prices (pydantic's package of LLM prices, with history and both cache-write TTLs) is
used only here, as a second source: at run time prices come from our own table, which staff
edit. A mismatch means one of the two is out of date — look before changing either.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import data_snapshot
from genai_prices.types import TieredPrices

from chatapp.claude.catalog import SEED_BY_ID, SEED_MODELS

PRICED_AT = datetime(2026, 11, 24, tzinfo=UTC)  # when shared/anthropic-api.md was collected
COLUMNS = {  # ours → theirs
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_write_5m": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
    "cache_read": "cache_read_mtok",
}


def _bands(value) -> list[tuple[int, Decimal]]:
    if isinstance(value, TieredPrices):
        return [(0, value.base), *((tier.start, tier.price) for tier in value.tiers)]
    return [(0, value)]


@pytest.mark.parametrize("facts", SEED_MODELS, ids=lambda facts: facts.id)
def test_every_seeded_rate_matches_the_independent_list(facts):
    anthropic = next(p for p in data_snapshot.get_snapshot().providers if p.id == "anthropic")
    model = anthropic.find_model(facts.id)
    assert model is not None, f"{facts.id} is not in genai-prices"
    theirs = model.get_prices(PRICED_AT)
    latest = max(band.effective_from for band in facts.rates if band.effective_from <= PRICED_AT)
    for ours_name, their_name in COLUMNS.items():
        ours = [(band.prompt_tokens_above, Decimal(getattr(band, ours_name)))
                for band in facts.rates if band.effective_from == latest]
        assert ours == _bands(getattr(theirs, their_name)), f"{facts.id} {ours_name}"


def test_sonnet_55_reads_cost_020_before_the_cut_of_2026_10_07_and_010_after():
    """genai-prices keeps no history for this cut: shared/anthropic-api.md and Anthropic's
    pricing page are the source."""
    (before, after) = SEED_BY_ID["claude-sonnet-5-5"].rates
    assert (before.cache_read, after.cache_read) == ("0.20", "0.10")
    assert after.effective_from == datetime(2026, 10, 7, tzinfo=UTC) > before.effective_from
    assert (before.input, before.output) == (after.input, after.output) == ("2", "10")


def test_the_5_5_models_cache_from_512_tokens_and_take_high_resolution_images():
    for model_id in ("claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5",
                     "claude-fable-5-1", "claude-fable-5-2"):
        facts = SEED_BY_ID[model_id]
        assert (facts.min_cacheable_tokens, facts.image_tier) == (512, "high"), model_id


def test_no_seeded_model_claims_to_take_a_temperature():
    # API version 2026-10-21 answers 400 to any temperature on every model.
    assert not any("temperature" in facts.capabilities for facts in SEED_MODELS)


@pytest.mark.parametrize("facts", SEED_MODELS, ids=lambda facts: facts.id)
def test_every_model_says_how_thinking_is_turned_off(facts):
    caps = facts.capabilities
    assert caps["thinking_off"] in ("omit", "disabled", "between_tools", "low_effort")
    # A model that thinks unasked cannot be turned off by leaving the field out.
    assert not (caps["thinks_by_default"] and caps["thinking_off"] == "omit"), facts.id
    if facts.successor:
        assert facts.successor in SEED_BY_ID and facts.lifecycle != "active"
