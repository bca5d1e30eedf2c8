"""Extended thinking: the model's capabilities decide what is offered and what is sent."""

import pytest

from chatapp.claude.catalog import SEED_BY_ID
from chatapp.thinking import choices, off_note, request_params, side_call_params

ADAPTIVE = {"thinking": ["adaptive"], "efforts": ["low", "medium", "high", "xhigh", "max"],
            "thinking_off": "omit"}
BUDGET = {"thinking": ["enabled"], "efforts": [], "thinking_off": "omit"}


def caps(model_id: str) -> dict:
    return SEED_BY_ID[model_id].capabilities


def test_the_control_offers_off_then_the_levels_the_model_takes():
    assert choices(ADAPTIVE) == ["off", "low", "medium", "high", "xhigh", "max"]
    assert choices(caps("claude-opus-4-6")) == ["off", "low", "medium", "high", "max"]
    assert choices(BUDGET) == ["off", "low", "medium", "high", "max"]
    assert choices({"thinking": ["adaptive"], "efforts": []}) == ["off", "on"]
    assert choices({}) == ["off"]
    # Rows from before the efforts list: effort True meant low to max.
    assert choices({"thinking": ["adaptive"], "effort": True}) == [
        "off", "low", "medium", "high", "max"]


def test_levels_are_adaptive_thinking_with_an_effort_and_shown_summarized():
    assert request_params(ADAPTIVE, "high", 8192, 128_000) == {
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": "high"},
    }


def test_a_level_the_model_lacks_becomes_the_nearest_one_below():
    # Auto offers xhigh; Opus 4.6 stops at high below max.
    sent = request_params(caps("claude-opus-4-6"), "xhigh", 8192, 128_000)
    assert sent["output_config"] == {"effort": "high"}


def test_a_budget_is_at_least_1024_and_below_max_tokens():
    params = request_params(BUDGET, "high", 8192, 64_000)
    budget = params["thinking"]["budget_tokens"]
    assert params["thinking"]["type"] == "enabled"
    assert params["thinking"]["display"] == "summarized"
    assert 1024 <= budget < params["max_tokens"] <= 64_000
    # Near the model's limit the budget shrinks rather than reach max_tokens.
    tight = request_params(BUDGET, "max", 4000, 4000)
    assert tight["thinking"]["budget_tokens"] == 3999 and tight["max_tokens"] == 4000
    assert request_params(BUDGET, "low", 900, 1000) == {}  # no room for 1,024: not sent


@pytest.mark.parametrize(("model_id", "sent"), [
    ("claude-haiku-4-5", {}),
    ("claude-opus-4-8", {}),
    ("claude-haiku-5-5", {"thinking": {"type": "disabled"}}),
    ("claude-opus-5", {"thinking": {"type": "disabled"}}),
    ("claude-sonnet-5-5", {"thinking": {"type": "between_tools"}}),
    ("claude-opus-5-5", {"output_config": {"effort": "low"}}),
    ("claude-fable-5-1", {"output_config": {"effort": "low"}}),
])
def test_off_is_sent_the_way_each_model_turns_thinking_off(model_id, sent):
    assert request_params(caps(model_id), "off", 8192, 128_000) == sent
    assert request_params(caps(model_id), None, 8192, 128_000) == sent


def test_the_control_explains_off_where_thinking_cannot_be_turned_off():
    assert off_note(caps("claude-opus-5-5")) == "This model always thinks; Off uses low effort."
    assert off_note(caps("claude-fable-5-1")) == off_note(caps("claude-opus-5-5"))
    assert off_note(caps("claude-haiku-5-5")) == ""


@pytest.mark.parametrize("model_id", sorted(SEED_BY_ID))
def test_a_side_call_leaves_its_text_room_whatever_the_model_thinks(model_id):
    facts = SEED_BY_ID[model_id]
    params = side_call_params(facts.capabilities, 24, facts.max_output_tokens)
    assert params["max_tokens"] >= 24
    assert params.get("thinking", {}).get("type") not in ("adaptive", "enabled")
    if facts.capabilities["thinking_off"] == "low_effort":
        # It still thinks, at low effort: room for that on top of the 24 tokens of text.
        assert params["output_config"] == {"effort": "low"}
        assert params["max_tokens"] > 24 + 1024
