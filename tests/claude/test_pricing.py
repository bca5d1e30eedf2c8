"""Cost arithmetic, checked against sums worked out by hand."""

from decimal import Decimal

from chatapp.claude.pricing import PriceRates, pick_band, price_usage
from chatapp.claude.types import Usage

SONNET_46 = PriceRates(
    input=Decimal("3"), output=Decimal("15"), cache_write_5m=Decimal("3.75"),
    cache_write_1h=Decimal("6"), cache_read=Decimal("0.30"),
)
HAIKU_45 = PriceRates(
    input=Decimal("1"), output=Decimal("5"), cache_write_5m=Decimal("1.25"),
    cache_write_1h=Decimal("2"), cache_read=Decimal("0.10"),
)
OPUS_47 = PriceRates(
    input=Decimal("5"), output=Decimal("25"), cache_write_5m=Decimal("6.25"),
    cache_write_1h=Decimal("10"), cache_read=Decimal("0.50"),
)
HAIKU_55_BANDS = [
    PriceRates(Decimal("0.10"), Decimal("0.50"), Decimal("0.125"), Decimal("0.20"),
               Decimal("0.01")),
    PriceRates(Decimal("0.50"), Decimal("2.50"), Decimal("0.625"), Decimal("1.00"),
               Decimal("0.05"), prompt_tokens_above=100_000),
]


def test_plain_input_and_output():
    cost = price_usage(Usage(input_tokens=2000, output_tokens=500), SONNET_46)
    # 2000 × 3 / 1M = 0.006; 500 × 15 / 1M = 0.0075
    assert cost.input == Decimal("0.006")
    assert cost.output == Decimal("0.0075")
    assert cost.total == Decimal("0.0135")


def test_published_seed_workloads_per_thousand_requests():
    usage = Usage(input_tokens=2000, output_tokens=500)
    assert price_usage(usage, HAIKU_45).total * 1000 == Decimal("4.50")
    assert price_usage(usage, SONNET_46).total * 1000 == Decimal("13.50")
    assert price_usage(usage, OPUS_47).total * 1000 == Decimal("22.50")


def test_five_minute_and_one_hour_writes_have_their_own_rates():
    cost = price_usage(
        Usage(cache_write_5m_tokens=10_000, cache_write_1h_tokens=10_000), SONNET_46
    )
    assert cost.cache_write_5m == Decimal("0.0375")  # 10k × 3.75 / 1M
    assert cost.cache_write_1h == Decimal("0.06")  # 10k × 6 / 1M
    assert cost.total == Decimal("0.0975")


def test_cache_reads_use_the_read_rate():
    cost = price_usage(Usage(input_tokens=100, cache_read_tokens=50_000), SONNET_46)
    assert cost.cache_read == Decimal("0.015")  # 50k × 0.30 / 1M
    assert cost.total == Decimal("0.0153")


def test_batch_halves_every_category_including_cache():
    usage = Usage(input_tokens=1000, output_tokens=1000, cache_write_5m_tokens=1000,
                  cache_read_tokens=1000)
    plain = price_usage(usage, SONNET_46)
    batch = price_usage(usage, SONNET_46, batch=True)
    assert batch.total * 2 == plain.total
    assert batch.cache_write_5m == Decimal("0.001875")


def test_tiered_model_bills_the_whole_request_at_its_band():
    small = Usage(input_tokens=50_000, output_tokens=1000)
    large = Usage(input_tokens=20_000, cache_read_tokens=90_000, output_tokens=1000)
    small_band = pick_band(HAIKU_55_BANDS, small.prompt_tokens)
    large_band = pick_band(HAIKU_55_BANDS, large.prompt_tokens)
    assert small_band.prompt_tokens_above == 0
    assert large_band.prompt_tokens_above == 100_000
    # 20k × 0.50 + 90k × 0.05 + 1k × 2.50, all per million
    assert price_usage(large, large_band).total == Decimal("0.017")


def test_prompt_of_exactly_the_threshold_stays_in_the_lower_band():
    assert pick_band(HAIKU_55_BANDS, 100_000).prompt_tokens_above == 0


def test_web_searches_cost_ten_dollars_a_thousand():
    assert price_usage(Usage(web_search_requests=3), SONNET_46).web_search == Decimal("0.03")


def test_breakdown_is_serialisable_and_adds_up():
    cost = price_usage(Usage(input_tokens=1, output_tokens=1), SONNET_46)
    as_dict = cost.as_dict()
    assert as_dict["total"] == str(cost.total)
    assert Decimal(as_dict["input"]) + Decimal(as_dict["output"]) == Decimal(as_dict["total"])


# --- savings and the budget's worst case -------------------------------------------------------


def test_caching_saves_the_plain_input_price_of_what_it_read_less_what_it_cost():
    from chatapp.claude.pricing import cache_savings

    usage = Usage(input_tokens=100, cache_read_tokens=100_000, cache_write_5m_tokens=20_000)
    # 120k cached tokens at $3 = 0.36, less 100k × $0.30 = 0.03 and 20k × $3.75 = 0.075
    assert cache_savings(usage, SONNET_46) == Decimal("0.255")


def test_writes_never_read_back_are_a_negative_saving():
    from chatapp.claude.pricing import cache_savings

    # 10k written for an hour at $6 instead of $3: 0.03 − 0.06
    assert cache_savings(Usage(cache_write_1h_tokens=10_000), SONNET_46) == Decimal("-0.03")


def test_batch_savings_are_the_discount_on_a_batch_item_only():
    from chatapp.claude.pricing import batch_savings

    usage = Usage(input_tokens=2000, output_tokens=1000)  # 0.006 + 0.015 at Sonnet prices
    assert batch_savings(usage, SONNET_46, batch=True) == Decimal("0.0105")
    assert batch_savings(usage, SONNET_46) == 0


def test_the_worst_case_prices_the_prompt_at_the_dearest_input_rate_and_all_of_max_tokens():
    from chatapp.claude.pricing import worst_case_cost

    # 1000 × $6 (1-hour write) + 8192 × $15, per million
    assert worst_case_cost([SONNET_46], prompt_tokens=1000, max_output_tokens=8192) == (
        Decimal("0.12888")
    )
    # A tiered model: a 150k prompt is in the upper band, $1.00 write and $2.50 output
    assert worst_case_cost(HAIKU_55_BANDS, prompt_tokens=150_000, max_output_tokens=1000) == (
        Decimal("0.1525")
    )


# --- what would it have cost: the strategy comparison ------------------------------------------


def _strategies():
    from chatapp.claude.pricing import StrategyPrices, UsageGroup

    replies = UsageGroup(  # ten Sonnet 4.6 replies that read and wrote the cache
        model="claude-sonnet-4-6", batch=False, could_wait=False, band_floor=0, requests=10,
        usage=Usage(input_tokens=10_000, output_tokens=5000, cache_read_tokens=100_000,
                    cache_write_5m_tokens=20_000),
        # 0.03 input + 0.075 output + 0.03 read + 0.075 write
        cost=Decimal("0.21"),
        # 120k cached × $3 = 0.36, less 0.03 + 0.075
        cache_savings=Decimal("0.255"),
    )
    titles = UsageGroup(  # titles on Haiku 4.5: 4k × $1 + 100 × $5
        model="claude-haiku-4-5", batch=False, could_wait=True, band_floor=0, requests=10,
        usage=Usage(input_tokens=4000, output_tokens=100),
        cost=Decimal("0.0045"), cache_savings=Decimal(0),
    )
    batch_items = UsageGroup(  # Sonnet batch items: (2k × $3 + 1k × $15) × 0.5
        model="claude-sonnet-4-6", batch=True, could_wait=True, band_floor=0, requests=2,
        usage=Usage(input_tokens=2000, output_tokens=1000),
        cost=Decimal("0.0105"), cache_savings=Decimal(0),
    )
    prices = StrategyPrices(
        tiers={"tier:claude-haiku-4-5": [HAIKU_45], "tier:claude-opus-4-7": [OPUS_47]},
        batch_multipliers={"claude-sonnet-4-6": Decimal("0.5"), "claude-haiku-4-5": Decimal("0.5")},
        web_search_per_thousand={},
    )
    return [replies, titles, batch_items], prices


def test_each_strategy_reprices_the_same_usage_by_hand():
    from chatapp.claude.pricing import strategy_costs

    groups, prices = _strategies()
    assert strategy_costs(groups, prices) == {
        "actual": Decimal("0.225"),  # 0.21 + 0.0045 + 0.0105
        # replies 0.01 + 0.025 + 0.01 + 0.025; titles 0.0045; batch (0.002 + 0.005) × 0.5
        "tier:claude-haiku-4-5": Decimal("0.078"),
        # replies 0.05 + 0.125 + 0.05 + 0.125; titles 0.02 + 0.0025; batch (0.01 + 0.025) × 0.5
        "tier:claude-opus-4-7": Decimal("0.39"),
        # the cache at the plain input price: 0.21 + 0.255, the rest unchanged
        "no_caching": Decimal("0.48"),
        # without caching, titles halved: 0.465 + 0.00225 + 0.0105 (already a batch)
        "batch": Decimal("0.47775"),
        # as it ran, titles halved: 0.21 + 0.00225 + 0.0105
        "caching_and_batch": Decimal("0.22275"),
    }


def test_a_staff_chosen_share_of_the_rest_is_batched_too():
    from chatapp.claude.pricing import strategy_costs

    groups, prices = _strategies()
    costs = strategy_costs(groups, prices, wait_share=Decimal("0.5"))
    # half the replies at half price: 0.465 − 0.465 × 0.5 × 0.5 = 0.34875
    assert costs["batch"] == Decimal("0.34875") + Decimal("0.00225") + Decimal("0.0105")
    # 0.21 − 0.21 × 0.25 = 0.1575
    assert costs["caching_and_batch"] == Decimal("0.1575") + Decimal("0.00225") + Decimal("0.0105")


def test_a_tiered_model_prices_each_group_at_its_prompt_band():
    from chatapp.claude.pricing import StrategyPrices, UsageGroup, strategy_costs

    large = UsageGroup(
        model="claude-haiku-5-5", batch=False, could_wait=False, band_floor=100_000, requests=1,
        usage=Usage(input_tokens=20_000, cache_read_tokens=90_000, output_tokens=1000),
        cost=Decimal("0.017"), cache_savings=Decimal("0.0405"),
    )
    prices = StrategyPrices(
        tiers={"tier:claude-haiku-5-5": HAIKU_55_BANDS, "tier:claude-sonnet-4-6": [SONNET_46]},
        batch_multipliers={}, web_search_per_thousand={},
    )
    costs = strategy_costs([large], prices)
    # the upper band: 20k × 0.50 + 90k × 0.05 + 1k × 2.50
    assert costs["tier:claude-haiku-5-5"] == Decimal("0.017")
    # Sonnet has one band: 20k × 3 + 90k × 0.30 + 1k × 15
    assert costs["tier:claude-sonnet-4-6"] == Decimal("0.102")


def test_web_searches_are_never_batch_discounted():
    from chatapp.claude.pricing import StrategyPrices, UsageGroup, strategy_costs

    searching = UsageGroup(
        model="claude-sonnet-4-6", batch=False, could_wait=True, band_floor=0, requests=1,
        usage=Usage(input_tokens=1000, output_tokens=1000, web_search_requests=10),
        cost=Decimal("0.118"),  # 0.003 + 0.015 + 10 searches × $0.01
        cache_savings=Decimal(0),
    )
    prices = StrategyPrices(tiers={}, batch_multipliers={},
                            web_search_per_thousand={"claude-sonnet-4-6": Decimal("10")})
    # tokens halved, searches not: 0.009 + 0.1
    assert strategy_costs([searching], prices)["batch"] == Decimal("0.109")


# --- the composer's estimate -----------------------------------------------------------------


def test_a_prompt_reads_what_the_cache_holds_and_writes_the_rest():
    from chatapp.claude.pricing import prompt_usage

    usage = prompt_usage(10_000, cached=8000, ttl="5m", cacheable=True)
    assert (usage.cache_read_tokens, usage.cache_write_5m_tokens, usage.input_tokens) == (
        8000, 2000, 0
    )
    assert prompt_usage(10_000, cached=0, ttl="1h", cacheable=True).cache_write_1h_tokens == (
        10_000
    )
    # Too short to be cached at all: plain input, whatever was "cached"
    assert prompt_usage(500, cached=400, ttl="5m", cacheable=False).input_tokens == 500


def test_the_estimate_runs_from_a_typical_reply_to_max_tokens():
    from chatapp.claude.pricing import cost_range, prompt_usage

    prompt = prompt_usage(10_000, cached=8000, ttl="5m", cacheable=True)
    low, high = cost_range([SONNET_46], prompt, expected_output=500, max_output=8192)
    # 8000 × $0.30 + 2000 × $3.75 = 0.0024 + 0.0075; then 500 or 8192 × $15
    assert low == Decimal("0.0099") + Decimal("0.0075")
    assert high == Decimal("0.0099") + Decimal("0.12288")
