"""Extended thinking: which depths a model offers, and the request parameters for one.

Every fact is catalog data (``ClaudeModel.capabilities``, seeded from chatapp/claude/catalog.py),
so no request the API would reject is sent:

- ``thinking``: the ``thinking.type`` that turns thinking on: ``adaptive`` (depth by
  ``output_config.effort``) on current models, ``enabled`` with a token budget (at least 1,024
  and below ``max_tokens``) on older ones (a 400 from Opus 4.7 on).
- ``efforts``: the effort levels the model takes, lowest first.
- ``thinking_off``: how the user's Off is sent. Under API version 2026-10-21 the 5.x models
  think by default when no ``thinking`` field is sent, and turning it off differs per model:
  ``omit`` (older models that think only when asked), ``disabled`` (Haiku 5.5; Opus 5 at
  effort high or below), ``between_tools`` (Sonnet 5.5: no up-front thinking, only at effort
  low to high), ``low_effort`` (Opus 5.5, Fable 5.1: thinking cannot be turned off, so Off is
  the lowest effort and the UI says so).

Thinking the user asked for is sent with ``display: "summarized"``: the newer models default to
``omitted`` (an empty thinking block), which would leave the Thinking panel blank.

Side calls (titles, Auto's check, summaries) use ``side_call_params``: thinking off, or at its
minimum, and a ``max_tokens`` that always leaves room for the text they need.
"""

from typing import Any

OFF = "off"
ON = "on"  # adaptive thinking on a model that takes no effort level
ALL_LEVELS = ("low", "medium", "high", "xhigh", "max")
# Budgets for models that take `enabled` with budget_tokens, by the same names.
BUDGETS = {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 32768}
MIN_BUDGET = 1024
LOWEST_EFFORT = "low"
SUMMARIZED = "summarized"

# How Off is sent, per the catalog's ``thinking_off``: the request fields, and what a side call
# must add to ``max_tokens`` on top of its text for the thinking the model may still do.
OFF_PARAMS: dict[str, dict[str, Any]] = {
    "omit": {},
    "disabled": {"thinking": {"type": "disabled"}},
    "between_tools": {"thinking": {"type": "between_tools"}},
    "low_effort": {"output_config": {"effort": LOWEST_EFFORT}},
}
# between_tools thinks only between tool calls (a side call has none); low effort still thinks,
# briefly: this much room keeps a short answer from being cut off by its own thinking.
SIDE_CALL_THINKING_ROOM = {"omit": 0, "disabled": 0, "between_tools": 1024, "low_effort": 4096}
# What a catalog row without the key does: the model thinks only when asked.
DEFAULT_OFF = "omit"

OFF_NOTES = {
    "low_effort": "This model always thinks; Off uses low effort.",
    "between_tools": "Off: no thinking before answering, only short notes between tool calls.",
}


def kinds(capabilities: dict[str, Any]) -> list[str]:
    value = capabilities.get("thinking") or []
    return [value] if isinstance(value, str) else list(value)


def efforts(capabilities: dict[str, Any]) -> list[str]:
    """The model's effort levels, lowest first ([] when it takes none)."""
    value = capabilities.get("efforts")
    if value is None:  # rows from before the list: effort True meant low, medium, high, max
        value = ["low", "medium", "high", "max"] if capabilities.get("effort") else []
    return [level for level in ALL_LEVELS if level in value]


def off_mode(capabilities: dict[str, Any]) -> str:
    mode = capabilities.get("thinking_off", DEFAULT_OFF)
    return mode if mode in OFF_PARAMS else DEFAULT_OFF


def off_note(capabilities: dict[str, Any]) -> str:
    """What the thinking control says about Off on this model ("" when Off is plain off)."""
    return OFF_NOTES.get(off_mode(capabilities), "")


def choices(capabilities: dict[str, Any]) -> list[str]:
    """The thinking control's options for a model: off, then the depths it supports."""
    found = kinds(capabilities)
    if "adaptive" in found:
        return [OFF, *(efforts(capabilities) or [ON])]
    if "enabled" in found:
        return [OFF, *(level for level in ALL_LEVELS if level != "xhigh")]
    return [OFF]


def _effort(level: str, offered: list[str]) -> str | None:
    """``level`` if the model takes it, else the nearest level it takes below (Auto may pick a
    model with fewer levels than were asked for), else its lowest; None: no effort levels."""
    if not offered:
        return None
    if level in offered:
        return level
    rank = ALL_LEVELS.index(level) if level in ALL_LEVELS else ALL_LEVELS.index("medium")
    below = [name for name in offered if ALL_LEVELS.index(name) <= rank]
    return below[-1] if below else offered[0]


def off_params(capabilities: dict[str, Any]) -> dict[str, Any]:
    """The request fields that turn thinking off on this model (or to its minimum)."""
    return {name: dict(value) for name, value in OFF_PARAMS[off_mode(capabilities)].items()}


def request_params(
    capabilities: dict[str, Any], level: str | None, max_tokens: int, model_max: int
) -> dict[str, Any]:
    """``thinking`` (and ``output_config`` / ``max_tokens``) for ``level``; Off (or None) sends
    the model's way of turning thinking off."""
    if not level or level == OFF or len(choices(capabilities)) == 1:
        return off_params(capabilities)
    if "adaptive" in kinds(capabilities):
        params: dict[str, Any] = {"thinking": {"type": "adaptive", "display": SUMMARIZED}}
        effort = _effort(level, efforts(capabilities))
        if effort is not None:
            params["output_config"] = {"effort": effort}
        return params
    budget = BUDGETS.get(level, BUDGETS["medium"])
    # The budget must stay below max_tokens: room for the answer is added on top, within the
    # model's limit, and the budget shrinks if that limit is near.
    wanted = min(budget + max_tokens, max(model_max, max_tokens))
    budget = min(budget, wanted - 1)
    if budget < MIN_BUDGET:
        return off_params(capabilities)
    return {
        "thinking": {"type": "enabled", "budget_tokens": budget, "display": SUMMARIZED},
        "max_tokens": wanted,
    }


def side_call_params(
    capabilities: dict[str, Any], text_tokens: int, model_max: int
) -> dict[str, Any]:
    """``max_tokens`` and the thinking-off fields of a side call (a title, Auto's check, a
    summary) that needs ``text_tokens`` of answer: whatever thinking the model still does
    cannot use up the room the text needs (within the model's limit)."""
    mode = off_mode(capabilities)
    wanted = text_tokens + SIDE_CALL_THINKING_ROOM[mode]
    return {**off_params(capabilities), "max_tokens": max(1, min(wanted, model_max))}
