"""Thinking and effort checked as the API checks them: `output_config.effort`, the thinking
types and efforts each model takes (models.py holds them as data), `display`, and the budget
of extended thinking; with the API's messages.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .models import EFFORTS, ModelSpec

MIN_THINKING_BUDGET = 1024
DISPLAYS = ("summarized", "omitted")


def _effort(body: dict[str, Any], model: ModelSpec) -> str | None:
    """`output_config.effort`, checked; None when the request does not set it."""
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is None:
        return None
    if effort not in EFFORTS:
        raise invalid(
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
        )
    if not model.takes_effort:
        raise invalid("output_config.effort: effort is not supported for this model")
    return effort


def check_thinking(body: dict[str, Any], model: ModelSpec, max_tokens: int | None) -> None:
    """The thinking types and efforts a model takes (models.py holds them as data)."""
    effort = _effort(body, model)
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return
    kind = thinking.get("type")
    display = thinking.get("display")
    if display is not None and display not in DISPLAYS:
        raise invalid("thinking.display: Input should be 'summarized' or 'omitted'")
    efforts = model.thinking.types.get(kind)
    if efforts is None:
        raise invalid(_unsupported_thinking(kind))
    effective = effort or model.thinking.default_effort
    if effective not in efforts:
        allowed = ", ".join(f"`{name}`" for name in sorted(efforts, key=EFFORTS.index))
        raise invalid(
            f'"thinking.type.{kind}" is only supported with `output_config.effort` {allowed} '
            f"on this model (this request: `{effective}`)."
        )
    if kind == "enabled":
        _check_budget(thinking, max_tokens)


def _unsupported_thinking(kind: Any) -> str:
    if kind == "adaptive":
        return "adaptive thinking is not supported on this model"
    if kind == "enabled":
        return (
            '"thinking.type.enabled" is not supported for this model. Use '
            '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
        )
    if kind == "disabled":
        return (
            '"thinking.type.disabled" is not supported for this model. Use '
            '"output_config.effort" to control thinking behavior.'
        )
    if kind == "between_tools":
        return '"thinking.type.between_tools" is not supported for this model.'
    return (
        "thinking.type: Input should be 'adaptive', 'between_tools', 'disabled' or 'enabled'"
    )


def _check_budget(thinking: dict[str, Any], max_tokens: int | None) -> None:
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        raise invalid(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to "
            f"{MIN_THINKING_BUDGET}"
        )
    if max_tokens is not None and budget >= max_tokens:
        raise invalid(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/"
            "extended-thinking#max-tokens-and-context-window-size"
        )

