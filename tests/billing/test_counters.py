"""A counting row's sums grow by exactly what a call adds, in one statement, and only the row
its key names."""

from datetime import date
from decimal import Decimal

import pytest

from chatapp.billing import counters
from chatapp.models import DailyUsage, MonthlySpend
from tests.factories import make_user

pytestmark = pytest.mark.django_db

MONTH = date(2026, 12, 1)


def test_a_months_spend_grows_by_each_amount_to_the_last_of_eight_decimals(
    django_assert_num_queries,
):
    user, other = make_user(), make_user()
    for owner in (user, other):
        MonthlySpend.objects.create(user=owner, month=MONTH)
    with django_assert_num_queries(1):
        assert counters.add_to(MonthlySpend, {"user_id": user.pk, "month": MONTH},
                               {"spent_usd": Decimal("0.00000001")}) == 1
    for _ in range(3):
        counters.add_to(MonthlySpend, {"user_id": user.pk, "month": MONTH},
                        {"spent_usd": Decimal("0.1")})
    assert MonthlySpend.objects.get(user=user).spent_usd == Decimal("0.30000001")
    assert MonthlySpend.objects.get(user=other).spent_usd == 0  # another key: untouched


def test_no_row_yet_updates_nothing_and_says_so():
    user = make_user()
    assert counters.add_to(MonthlySpend, {"user_id": user.pk, "month": MONTH},
                           {"spent_usd": Decimal(1)}) == 0
    assert not MonthlySpend.objects.exists()


def test_a_days_row_adds_tokens_and_counts_an_unpriced_sum_from_zero():
    user = make_user()
    key = {"day": MONTH, "user_id": user.pk, "model": "claude-haiku-4-5", "purpose": "reply",
           "is_batch": False, "band_floor": 0, "priced": True}
    DailyUsage.objects.create(**key, cost_usd=None)
    counters.add_to(DailyUsage, key, {"requests": 1, "input_tokens": 1200,
                                      "cost_usd": Decimal("0.0012")})
    counters.add_to(DailyUsage, key, {"requests": 1, "output_tokens": 30})
    row = DailyUsage.objects.get()
    assert (row.requests, row.input_tokens, row.output_tokens) == (2, 1200, 30)
    assert row.cost_usd == Decimal("0.0012")
