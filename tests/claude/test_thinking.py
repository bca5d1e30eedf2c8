"""Extended thinking: the model's capabilities decide what is offered and what is sent."""

import pytest

from chatapp.claude.catalog import SEED_BY_ID, SEED_MODELS
from chatapp.claude.messages import complete
from chatapp.claude.thinking import choices, off_note, request_params, side_call_params

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


# --- Through the real SDK against the offline upstream (as strict as the API) ---------------

OFFERED = [facts for facts in SEED_MODELS if facts.is_active]
QUESTION = [{"role": "user", "content": [{"type": "text", "text": "Why is the sky blue?"}]}]


def _request(facts, **params) -> dict:
    return {"model": facts.id, "messages": QUESTION, **params}


@pytest.mark.parametrize(
    ("model_id", "level"),
    [(facts.id, level) for facts in OFFERED for level in choices(facts.capabilities)],
)
async def test_off_and_every_level_the_control_offers_are_accepted(claude, model_id, level):
    facts = SEED_BY_ID[model_id]
    params = request_params(facts.capabilities, level, 4096, facts.max_output_tokens)
    completion = await complete(_request(facts, **{"max_tokens": 4096, **params}))
    assert completion.text and completion.stop_reason == "end_turn"


@pytest.mark.parametrize("model_id", ["claude-opus-5-5", "claude-fable-5-1", "claude-fable-5-2"])
async def test_off_on_a_model_that_always_thinks_sends_low_effort(claude, model_id):
    facts = SEED_BY_ID[model_id]
    await complete(_request(facts, max_tokens=4096,
                            **request_params(facts.capabilities, "off", 4096, 128_000)))
    [sent] = [r["body"] for r in claude.requests() if r["path"] == "/v1/messages"]
    assert "thinking" not in sent and sent["output_config"] == {"effort": "low"}


@pytest.mark.parametrize("model_id", [facts.id for facts in OFFERED])
async def test_a_24_token_side_call_gets_text_back_on_every_model(claude, model_id):
    """The title's budget: the 5.x models think by default and thinking counts against
    max_tokens, so without side_call_params a 24-token call can end with no text at all."""
    facts = SEED_BY_ID[model_id]
    params = side_call_params(facts.capabilities, 24, facts.max_output_tokens)
    completion = await complete(_request(facts, **params))
    assert completion.text.strip()
