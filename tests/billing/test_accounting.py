"""Every call that reaches Claude is priced at the price in force and recorded."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chatapp.billing.accounting import record_call
from chatapp.billing.money import format_usd
from chatapp.billing.prices import cheapest_model_id, rates_in_force
from chatapp.claude.types import Usage
from chatapp.models import ClaudeModel, ModelPrice
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_call_is_priced_with_the_seeded_catalog():
    record = record_call(
        user_id=make_user().pk, purpose="reply", model_id="claude-sonnet-4-6",
        usage=Usage(input_tokens=2000, output_tokens=500),
    )
    assert record.cost_usd == Decimal("0.0135")
    assert record.cost_breakdown["input"] == "0.00600000"


def test_a_new_price_applies_from_its_date_without_touching_history():
    user = make_user()
    before = record_call(user_id=user.pk, purpose="reply", model_id="claude-haiku-4-5",
                         usage=Usage(input_tokens=1_000_000))
    model = ClaudeModel.objects.get(pk="claude-haiku-4-5")
    ModelPrice.objects.create(
        model=model, effective_from=timezone.now() - timedelta(seconds=1),
        input_per_mtok=Decimal("2"), output_per_mtok=Decimal("10"),
        cache_write_5m_per_mtok=Decimal("2.5"), cache_write_1h_per_mtok=Decimal("4"),
        cache_read_per_mtok=Decimal("0.2"),
    )
    after = record_call(user_id=user.pk, purpose="reply", model_id="claude-haiku-4-5",
                        usage=Usage(input_tokens=1_000_000))
    before.refresh_from_db()
    assert before.cost_usd == Decimal("1") and after.cost_usd == Decimal("2")


def test_a_model_without_a_price_is_unpriced_not_free():
    record = record_call(user_id=make_user().pk, purpose="reply", model_id="claude-mystery",
                         usage=Usage(input_tokens=10, output_tokens=10))
    assert record.cost_usd is None and record.cost_breakdown == {"unpriced": True}


def test_tiered_model_uses_the_band_of_the_whole_prompt():
    record = record_call(
        user_id=make_user().pk, purpose="reply", model_id="claude-haiku-5-5",
        usage=Usage(input_tokens=20_000, cache_read_tokens=90_000, output_tokens=1000),
    )
    assert record.cost_usd == Decimal("0.017")


def test_estimated_output_is_marked():
    record = record_call(user_id=make_user().pk, purpose="reply", model_id="claude-sonnet-4-6",
                         usage=Usage(input_tokens=1, output_tokens=1, estimated=True))
    assert record.cost_breakdown["output_estimated"] is True


def test_cheapest_model_is_the_lowest_priced_active_one():
    assert cheapest_model_id() == "claude-haiku-5-5"
    ClaudeModel.objects.filter(pk="claude-haiku-5-5").update(is_active=False)
    assert cheapest_model_id() == "claude-haiku-4-5"


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(None, None), (Decimal("0E-8"), "0"), (Decimal("0.00012300"), "0.000123"),
     (Decimal("10.00000000"), "10")],
)
def test_costs_are_shown_as_plain_decimal_strings(amount, shown):
    assert format_usd(amount) == shown


def _haiku_price(effective_from, input_per_mtok: str) -> ModelPrice:
    return ModelPrice.objects.create(
        model_id="claude-haiku-4-5", effective_from=effective_from,
        input_per_mtok=Decimal(input_per_mtok), output_per_mtok=Decimal("10"),
        cache_write_5m_per_mtok=Decimal("2.5"), cache_write_1h_per_mtok=Decimal("4"),
        cache_read_per_mtok=Decimal("0.2"),
    )


def _haiku_input_rate() -> Decimal:
    (band,) = rates_in_force("claude-haiku-4-5")
    return band.input


def test_prices_in_force_are_remembered_between_calls(django_assert_num_queries):
    rates_in_force("claude-haiku-4-5")
    with django_assert_num_queries(0):
        assert _haiku_input_rate() == Decimal("1")


def _posted_form(page) -> dict:
    """What the browser would post back from an admin change page, unchanged."""
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if hasattr(field.field.widget, "widgets"):  # date and time as two inputs
                for index, part in enumerate(field.field.widget.decompress(value)):
                    data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
            elif value is True:
                data[field.html_name] = "on"
            elif value is not None and value is not False:
                data[field.html_name] = str(value)
    return data


def test_a_price_edited_in_the_admin_is_used_by_the_next_call(admin_client):
    assert _haiku_input_rate() == Decimal("1")
    url = "/admin/chatapp/claudemodel/claude-haiku-4-5/change/"
    form = _posted_form(admin_client.get(url))
    assert form["prices-0-input_per_mtok"] == "1.000000"
    form["prices-0-input_per_mtok"] = "1.5"
    assert admin_client.post(url, form).status_code == 302
    assert _haiku_input_rate() == Decimal("1.5")


def test_a_new_or_deleted_price_is_used_by_the_next_call():
    assert _haiku_input_rate() == Decimal("1")
    newer = _haiku_price(timezone.now() - timedelta(seconds=1), "2")
    assert _haiku_input_rate() == Decimal("2")
    newer.delete()
    assert _haiku_input_rate() == Decimal("1")


def test_a_remembered_price_gives_way_to_the_next_one_at_its_date():
    takes_effect = timezone.now() + timedelta(milliseconds=100)
    _haiku_price(takes_effect, "3")
    assert _haiku_input_rate() == Decimal("1")  # remembered, until the new price's date
    while timezone.now() < takes_effect:
        time.sleep(0.01)
    assert _haiku_input_rate() == Decimal("3")


def test_the_cheapest_model_takes_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert cheapest_model_id() == "claude-haiku-5-5"
