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

from chatapp.claude.catalog import SEED_MODELS

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
    for ours_name, their_name in COLUMNS.items():
        ours = [(band.prompt_tokens_above, Decimal(getattr(band, ours_name)))
                for band in facts.rates]
        assert ours == _bands(getattr(theirs, their_name)), f"{facts.id} {ours_name}"
