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
