"""Extended thinking: which depths a model offers, and the request parameters for one.

The catalog's capabilities decide (``capabilities["thinking"]``: ``adaptive`` and/or
``enabled``; ``capabilities["effort"]``), so no request the API would reject is sent:
adaptive thinking with an effort level on current models, a token budget (at least 1,024 and
below ``max_tokens``) on older ones that only take ``enabled``. Temperature and a forced
``tool_choice`` are never sent with thinking (conversation_settings.temperature_params leaves a
conversation's temperature out then; the app forces no tool choice).
"""

from typing import Any

OFF = "off"
LEVELS = ("low", "medium", "high", "max")
# Budgets for models that take `enabled` with budget_tokens, by the same names.
BUDGETS = {"low": 2048, "medium": 8192, "high": 16384, "max": 32768}
MIN_BUDGET = 1024


def kinds(capabilities: dict[str, Any]) -> list[str]:
    value = capabilities.get("thinking") or []
    return [value] if isinstance(value, str) else list(value)


def choices(capabilities: dict[str, Any]) -> list[str]:
    """The thinking control's options for a model: off, then the depths it supports."""
    if not {"adaptive", "enabled"} & set(kinds(capabilities)):
        return [OFF]
    if "adaptive" in kinds(capabilities) and not capabilities.get("effort"):
        return [OFF, "on"]
    return [OFF, *LEVELS]


def request_params(
    capabilities: dict[str, Any], level: str | None, max_tokens: int, model_max: int
) -> dict[str, Any]:
    """``thinking`` (and ``output_config`` / ``max_tokens``) for ``level``; {} when off or not
    offered by this model."""
    if not level or level == OFF or level not in choices(capabilities):
        return {}
    if "adaptive" in kinds(capabilities):
        params: dict[str, Any] = {"thinking": {"type": "adaptive"}}
        if level in LEVELS:
            params["output_config"] = {"effort": level}
        return params
    budget = BUDGETS.get(level, BUDGETS["medium"])
    # The budget must stay below max_tokens: room for the answer is added on top, within the
    # model's limit, and the budget shrinks if that limit is near.
    wanted = min(budget + max_tokens, max(model_max, max_tokens))
    budget = min(budget, wanted - 1)
    if budget < MIN_BUDGET:
        return {}
    return {"thinking": {"type": "enabled", "budget_tokens": budget}, "max_tokens": wanted}
