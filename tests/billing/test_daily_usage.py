"""The daily sums the cost review reads: kept call by call, and the same when rebuilt."""

from decimal import Decimal

import pytest

from chatapp.billing import daily_usage
from chatapp.billing.accounting import record_call
from chatapp.claude.types import Usage
from chatapp.models import DailyUsage
from tests.factories import make_user

pytestmark = pytest.mark.django_db

FIELDS = ("day", "user_id", "model", "purpose", "is_batch", "band_floor", "priced", "requests",
          "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
          "cache_read_tokens", "web_search_requests", "cost_usd", "cache_savings_usd",
          "batch_savings_usd")


def rows():
    return sorted(DailyUsage.objects.values_list(*FIELDS), key=str)


def test_each_call_is_added_to_its_days_row_and_a_rebuild_agrees():
    alice = make_user()
    for usage in (Usage(input_tokens=2000, output_tokens=500),
                  Usage(input_tokens=100, cache_read_tokens=10_000, output_tokens=100)):
        record_call(user_id=alice.pk, purpose="reply", model_id="claude-sonnet-4-6", usage=usage)
    # a prompt over Haiku 5.5's 100k threshold gets a row of its own band
    record_call(user_id=alice.pk, purpose="reply", model_id="claude-haiku-5-5",
                usage=Usage(input_tokens=20_000, cache_read_tokens=90_000, output_tokens=1000))
    record_call(user_id=alice.pk, purpose="title", model_id="claude-mystery",
                usage=Usage(input_tokens=5, output_tokens=5))
    kept = rows()
    sonnet = DailyUsage.objects.get(model="claude-sonnet-4-6")
    assert sonnet.requests == 2 and sonnet.cost_usd == Decimal("0.0183")
    assert sonnet.cache_savings_usd == Decimal("0.027")
    assert DailyUsage.objects.get(model="claude-haiku-5-5").band_floor == 100_000
    mystery = DailyUsage.objects.get(model="claude-mystery")
    assert not mystery.priced and mystery.cost_usd is None

    assert daily_usage.rebuild() == 3
    assert rows() == kept


@pytest.mark.parametrize(("prompt", "floor"), [(0, 0), (100_000, 0), (100_001, 100_000)])
def test_the_band_floor_is_the_largest_threshold_the_prompt_exceeds(prompt, floor):
    assert daily_usage.band_floor(prompt, [100_000]) == floor
