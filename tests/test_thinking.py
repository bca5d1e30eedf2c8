"""Extended thinking: the model's capabilities decide what is offered and what is sent."""

from chatapp.thinking import choices, request_params

ADAPTIVE = {"thinking": ["adaptive"], "effort": True}
BUDGET = {"thinking": ["enabled"], "effort": False}


def test_current_models_offer_effort_levels_older_ones_too():
    assert choices(ADAPTIVE) == ["off", "low", "medium", "high", "max"]
    assert choices(BUDGET) == ["off", "low", "medium", "high", "max"]
    assert choices({"thinking": ["adaptive"], "effort": False}) == ["off", "on"]
    assert choices({}) == ["off"]


def test_adaptive_thinking_carries_the_effort_level():
    assert request_params(ADAPTIVE, "high", 8192, 128_000) == {
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}
    }


def test_a_budget_is_at_least_1024_and_below_max_tokens():
    params = request_params(BUDGET, "high", 8192, 64_000)
    budget = params["thinking"]["budget_tokens"]
    assert params["thinking"]["type"] == "enabled"
    assert 1024 <= budget < params["max_tokens"] <= 64_000
    # Near the model's limit the budget shrinks rather than reach max_tokens.
    tight = request_params(BUDGET, "max", 4000, 4000)
    assert tight["thinking"]["budget_tokens"] == 3999 and tight["max_tokens"] == 4000
    assert request_params(BUDGET, "low", 900, 1000) == {}  # no room for 1,024: not sent


def test_off_or_unoffered_levels_send_nothing():
    assert request_params(ADAPTIVE, "off", 8192, 128_000) == {}
    assert request_params(ADAPTIVE, None, 8192, 128_000) == {}
    assert request_params({}, "high", 8192, 128_000) == {}
