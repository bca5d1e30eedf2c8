"""The cost review's figures, added up by the database and checked against sums by hand."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chatapp.billing.money import csv_usd
from chatapp.cost_review import queries as costs
from chatapp.cost_review import strategies
from chatapp.cost_review.date_ranges import DateRange, InvalidRange
from tests.cost_data import make_team

pytestmark = pytest.mark.django_db

NOV = DateRange(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def team():
    return make_team()


def by_name(rows):
    return {row["user__username"]: row for row in rows}


def test_one_row_per_user_with_every_column_summed(team):
    rows = by_name(costs.per_user(NOV))
    assert set(rows) == {"alice", "bob"}  # carol spent in October
    alice = rows["alice"]
    assert (alice["requests"], alice["input_tokens"], alice["output_tokens"]) == (2, 2100, 600)
    assert (alice["cache_write_tokens"], alice["cache_read_tokens"]) == (0, 10_000)
    assert alice["cost"] == Decimal("0.0183")
    assert alice["cache_savings"] == Decimal("0.027")
    assert alice["batch_savings"] == 0
    assert alice["budget"] == Decimal("10")  # the default
    assert alice["share_used"] == pytest.approx(Decimal("0.00183"))


def test_unpriced_calls_are_counted_apart_and_never_as_zero(team):
    bob = by_name(costs.per_user(NOV))["bob"]
    assert bob["requests"] == 2 and bob["unpriced"] == 1
    assert bob["cost"] == Decimal("0.003")
    assert bob["batch_savings"] == Decimal("0.003")
    assert bob["budget"] == Decimal("0.01") and bob["share_used"] == pytest.approx(Decimal("0.3"))
    mystery = next(r for r in costs.per_model(NOV) if r["model"] == "claude-mystery")
    assert mystery["cost"] is None and mystery["unpriced"] == 1


@pytest.mark.parametrize(
    ("order", "expected"),
    [("-cost", ["alice", "bob"]), ("cost", ["bob", "alice"]), ("user", ["alice", "bob"]),
     ("-user", ["bob", "alice"]), ("-share", ["bob", "alice"]), ("nonsense", ["alice", "bob"])],
)
def test_the_table_sorts_by_any_column(team, order, expected):
    assert [r["user__username"] for r in costs.per_user(NOV, order)] == expected


def test_totals_and_the_per_model_breakdown(team):
    totals = costs.totals(NOV)
    assert totals["users"] == 2 and totals["requests"] == 4
    assert totals["cost"] == Decimal("0.0213") and totals["unpriced"] == 1
    models = {r["model"]: r["cost"] for r in costs.per_model(NOV)}
    assert models == {"claude-sonnet-4-6": Decimal("0.0183"),
                      "claude-haiku-4-5": Decimal("0.003"), "claude-mystery": None}


def test_cost_per_day_and_model_uses_utc_days(team):
    rows = {(r["day"], r["model"]): r["cost"] for r in costs.cost_by_day_and_model(NOV)}
    assert rows == {
        (date(2026, 11, 3), "claude-sonnet-4-6"): Decimal("0.0135"),
        (date(2026, 11, 4), "claude-sonnet-4-6"): Decimal("0.0048"),
        (date(2026, 11, 4), "claude-haiku-4-5"): Decimal("0.003"),
        (date(2026, 11, 5), "claude-mystery"): None,
    }


def test_a_users_spend_by_conversation_keeps_deleted_ones(team):
    alice = team[0]
    (plans,) = costs.user_conversations(NOV, alice.pk)
    assert plans["title"] == "Plans" and plans["cost"] == Decimal("0.0183")
    plans_conversation = plans["conversation"]
    from chatapp.models import Conversation

    Conversation.objects.filter(pk=plans_conversation).delete()
    (deleted,) = costs.user_conversations(NOV, alice.pk)
    assert deleted["conversation"] is None and deleted["cost"] == Decimal("0.0183")


def test_a_range_covers_whole_days_at_both_ends():
    period = DateRange.parse("2026-11-04", "2026-11-04")
    assert period.since == datetime(2026, 11, 4, tzinfo=UTC)
    assert period.until == datetime(2026, 11, 5, tzinfo=UTC)
    assert period.months == 1
    assert DateRange.parse("2026-10-31", "2026-12-01").months == 3


def test_the_default_range_is_this_month_so_far():
    period = DateRange.parse(None, None)
    assert period.start.day == 1 and period.end == DateRange.this_month().end


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [("2026-13-01", "2026-12-01", "The start date must look like 2026-11-30."),
     ("2026-11-05", "2026-11-01", "The start date is after the end date."),
     ("2026-11-01", "yesterday", "The end date must look like 2026-11-30.")],
)
def test_a_bad_range_is_refused_in_plain_words(start, end, words):
    with pytest.raises(InvalidRange, match=words):
        DateRange.parse(start, end)


# --- what would it have cost -----------------------------------------------------------------


def _with_a_title(team):
    from chatapp.claude.types import Usage
    from tests.cost_data import call

    # A title on Haiku 4.5: 4000 × $1 + 100 × $5 = $0.0045; a title could wait.
    call(team[0], "claude-haiku-4-5", Usage(input_tokens=4000, output_tokens=100),
         when=datetime(2026, 11, 6, tzinfo=UTC), purpose="title")


def test_the_comparison_reprices_the_range_by_hand(team):
    _with_a_title(team)
    comparison = strategies.compare_strategies(NOV)
    assert [s.key for s in comparison.strategies] == [
        "actual", "tier:claude-haiku-5-5", "tier:claude-sonnet-5-5", "tier:claude-opus-5-5",
        "no_caching", "batch", "caching_and_batch",
    ]
    assert comparison.overall == {
        # 0.0135 + 0.0048 (Alice) + 0.003 (Bob's batch item) + 0.0045 (the title)
        "actual": Decimal("0.0258"),
        # at $0.10 / $0.50 / read $0.01: 0.00045 + 0.00016 + 0.0003 (batch) + 0.00045
        "tier:claude-haiku-5-5": Decimal("0.00136"),
        # at $2 / $10 / read $0.10: 0.009 + 0.0022 + 0.006 (batch) + 0.009
        "tier:claude-sonnet-5-5": Decimal("0.0262"),
        # at $4 / $20 / read $0.20: 0.018 + 0.0044 + 0.012 (batch) + 0.018
        "tier:claude-opus-5-5": Decimal("0.0524"),
        # Alice's 10,000 cached tokens at $3 instead of $0.30: + 0.027
        "no_caching": Decimal("0.0528"),
        # and the title at half price: − 0.00225
        "batch": Decimal("0.05055"),
        "caching_and_batch": Decimal("0.02355"),
    }
    assert comparison.unpriced == 1  # Bob's call to a model without a price


def test_the_comparison_per_user_adds_up_to_the_whole(team):
    _with_a_title(team)
    comparison = strategies.compare_strategies(NOV, wait_share=Decimal("0.5"))
    names = [name for _, name, _ in comparison.users]
    assert names == ["alice", "bob"]  # dearest first
    alice, bob = (by_key for _, _, by_key in comparison.users)
    for key, total in comparison.overall.items():
        assert alice[key] + bob[key] == total
    # half of Alice's replies (0.0183) and all of her title (0.0045) at half price
    assert alice["caching_and_batch"] == Decimal("0.0183") - Decimal("0.004575") + Decimal(
        "0.00225"
    )
    rows = comparison.rows(bob)
    assert rows[0]["difference"] == 0 and rows[0]["strategy"].label == "As it actually ran"


@pytest.mark.parametrize("amount, written", [
    (Decimal("0E-18"), "0.00000000"),  # a database sum of nothing but zeros
    (Decimal("-0E-17"), "0.00000000"),
    (Decimal("0.0183000000000000"), "0.01830000"),
    (Decimal("-0.02039000000000000"), "-0.02039000"),
    (Decimal("0.0000005"), "0.00000050"),  # half a millionth: a batch token, kept
    (Decimal("12345.678"), "12345.67800000"),
    (None, ""),  # unpriced: no number, never zero
])
def test_money_in_a_csv_has_one_form(amount, written):
    assert csv_usd(amount) == written
