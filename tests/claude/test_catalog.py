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


# --- The catalog in the database: dated prices, the migration, the sync with models.list() ---


@pytest.mark.django_db
def test_sonnet_55_usage_is_priced_at_the_rate_in_force_when_it_happened():
    from chatapp.billing.prices import rates_in_force

    def read_rate(day):
        (band,) = rates_in_force("claude-sonnet-5-5", datetime(2026, 10, day, 12, tzinfo=UTC))
        return band.cache_read

    assert (read_rate(6), read_rate(7)) == (Decimal("0.20"), Decimal("0.10"))
    (now,) = rates_in_force("claude-sonnet-5-5")
    assert now.cache_read == Decimal("0.10")


def _an_install_from_before_0014():
    """The catalog as migrations 0002-0013 left it: no Fable, no 4.5 models, Sonnet 5.5's
    read at $0.10 from the start, Haiku 5.5 at 4,096 tokens and standard images, the old
    capability keys; a conversation still on a model that has since retired."""
    from chatapp.models import ClaudeModel, ModelPrice

    ClaudeModel.objects.filter(pk__in=["claude-fable-5-1", "claude-fable-5-2",
                                       "claude-opus-4-5"]).delete()
    ClaudeModel.objects.filter(pk="claude-sonnet-4-5").update(
        is_active=True, lifecycle="active", retires_at=None, successor=None)
    ModelPrice.objects.filter(model_id="claude-sonnet-5-5").delete()
    ModelPrice.objects.create(
        model_id="claude-sonnet-5-5", effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        input_per_mtok=2, output_per_mtok=10, cache_write_5m_per_mtok=Decimal("2.5"),
        cache_write_1h_per_mtok=4, cache_read_per_mtok=Decimal("0.10"))
    ClaudeModel.objects.filter(pk="claude-haiku-5-5").update(
        min_cacheable_tokens=4096, image_tier="standard",
        capabilities={"thinking": ["adaptive"], "effort": True, "prefill": False,
                      "temperature": False, "citations": True, "pdf_input": True})


@pytest.mark.django_db
def test_the_migration_brings_an_existing_install_up_to_date():
    from chatapp.billing.prices import rates_in_force
    from chatapp.claude.catalog import apply_current_facts
    from chatapp.models import ClaudeModel, Conversation, Message, ModelPrice
    from tests.factories import make_conversation, make_exchange

    _an_install_from_before_0014()
    old_chat = make_conversation(model="claude-sonnet-4-5")
    make_exchange(old_chat, "Hi", "Hello!")
    apply_current_facts(ClaudeModel, ModelPrice, Conversation, Message)

    haiku = ClaudeModel.objects.get(pk="claude-haiku-5-5")
    assert (haiku.min_cacheable_tokens, haiku.image_tier) == (512, "high")
    assert haiku.capabilities["thinking_off"] == "disabled"
    assert "temperature" not in haiku.capabilities and "effort" not in haiku.capabilities
    assert haiku.capabilities["efforts"][-1] == "max"
    for model_id in ("claude-fable-5-1", "claude-fable-5-2", "claude-opus-4-5"):
        assert ClaudeModel.objects.get(pk=model_id).is_active and rates_in_force(model_id)
    (before,) = rates_in_force("claude-sonnet-5-5", datetime(2026, 9, 30, tzinfo=UTC))
    assert before.cache_read == Decimal("0.20")
    retired = ClaudeModel.objects.get(pk="claude-sonnet-4-5")
    assert not retired.is_active and retired.successor_id == "claude-sonnet-5-5"
    old_chat.refresh_from_db()
    assert old_chat.model == "claude-sonnet-5-5"
    reply = old_chat.messages.get(role="assistant")
    assert reply.notes == ["Claude Sonnet 4.5 was retired on 2026-11-30: this conversation "
                           "now uses Claude Sonnet 5.5."]
    # Run twice (a migration re-applied, or 0002's seed already had it): nothing changes.
    apply_current_facts(ClaudeModel, ModelPrice, Conversation, Message)
    assert ModelPrice.objects.filter(model_id="claude-sonnet-5-5").count() == 2
    assert len(old_chat.messages.get(role="assistant").notes) == 1


@pytest.mark.django_db
def test_sync_marks_what_the_api_deprecates_and_learns_a_new_models_thinking(claude):
    from chatapp.models import ClaudeModel
    from chatapp.runtime.catalog_sync import sync_catalog

    ClaudeModel.objects.filter(pk="claude-fable-5-2").delete()  # one the catalog lacks
    summary = sync_catalog()
    assert "added: claude-fable-5-2" in summary
    opus_45 = ClaudeModel.objects.get(pk="claude-opus-4-5")
    assert opus_45.is_active and opus_45.lifecycle == "deprecated"
    assert opus_45.retires_at == datetime(2027, 1, 22, tzinfo=UTC)
    # Added switched off (no price yet), with the thinking the API reports: it cannot turn
    # thinking off (no `disabled` or `between_tools`), so Off is its lowest effort.
    fable = ClaudeModel.objects.get(pk="claude-fable-5-2")
    assert not fable.is_active and fable.tier == "opus"
    assert fable.capabilities["thinking"] == ["adaptive"]
    assert fable.capabilities["thinking_off"] == "low_effort"
    assert ClaudeModel.objects.get(pk="claude-haiku-5-5").capabilities["thinking_off"] == (
        "disabled")


@pytest.mark.django_db
def test_a_retired_model_is_hidden_and_its_conversations_move_to_its_successor(claude):
    from chatapp.models import ClaudeModel
    from chatapp.runtime.catalog_sync import reconcile
    from tests.factories import logged_in, make_conversation, make_exchange, make_user

    owner = make_user()
    chat = make_conversation(owner, model="claude-opus-4-5")
    make_exchange(chat, "Plan my week", "Here is a plan.")
    listed = [{"id": m.pk, "lifecycle": "active"} for m in ClaudeModel.objects.all()]
    for entry in listed:
        if entry["id"] == "claude-opus-4-5":
            entry.update(lifecycle="retired", retires_at="2027-01-22T00:00:00Z")
    report = reconcile(listed)
    assert report["retired"] == ["claude-opus-4-5"]
    chat.refresh_from_db()
    assert chat.model == "claude-opus-5-5"
    assert chat.messages.get(role="assistant").notes == [
        "Claude Opus 4.5 was retired on 2027-01-22: this conversation now uses Claude Opus 5.5."]
    offered = [m["id"] for m in logged_in(owner).get("/api/models/").json()["models"]]
    assert "claude-opus-4-5" not in offered and "claude-opus-5-5" in offered
