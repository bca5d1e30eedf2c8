"""A conversation's settings: system prompt, model, max output, cache TTL.

Two halves: checking what a person asks for (``changes``: plain-words ``SettingsError``), and
what a reply's request gets from the stored settings (``reply_max_tokens``). The catalog's
facts decide (``max_output_tokens`` of the model), so no request the API would reject is sent.

No temperature: API version 2026-10-21 (the SDK 2.x) answers 400 to one on every model. A
``temperature`` in what a client sends is accepted and ignored (older clients, presets and
exports carry one); values stored before are kept and never sent.

Synchronous (ORM): call from views or the thread that builds a request.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import BadRequest

from chatapp.billing import prices
from chatapp.claude import thinking
from chatapp.claude.pricing import pick_band
from chatapp.models import AUTO_MODEL, CacheTtl, ClaudeModel, ModelLifecycle
from chatapp.safety import model_access

MAX_SYSTEM_PROMPT_CHARS = 50_000


class SettingsError(BadRequest, ValueError):
    """A setting that cannot be used; the message says why in plain words (a JSON endpoint
    answers it 400, like any BadRequest)."""


# --- Facts ---------------------------------------------------------------------------------


def default_max_output(model: ClaudeModel | None, wanted: int) -> int:
    """What a reply may write when the conversation does not say: the deployment's default
    (``wanted``: CHATAPP_MAX_OUTPUT_TOKENS), within the model's limit."""
    return min(wanted, model.max_output_tokens) if model else wanted


def model_facts(model: ClaudeModel, default_max: int) -> dict[str, Any]:
    """What the settings panel needs to know of a model: its limits and cache rates now
    (``default_max``: CHATAPP_MAX_OUTPUT_TOKENS)."""
    bands = prices.rates_in_force(model.pk)
    base = pick_band(bands, 0) if bands else None
    rates = None
    if base is not None:
        rates = {
            name: f"{getattr(base, name).normalize():f}"
            for name in ("input", "cache_write_5m", "cache_write_1h", "cache_read")
        }
    return {
        "max_output_tokens": model.max_output_tokens,
        "default_max_output_tokens": default_max_output(model, default_max),
        "cache_rates": rates,
        **picker_facts(model),
    }


def picker_facts(model: ClaudeModel) -> dict[str, Any]:
    """How the model picker shows a model (marked when deprecated) and what its thinking
    control says about Off (where the model cannot turn thinking off)."""
    label = model.display_name
    if model.lifecycle == ModelLifecycle.DEPRECATED:
        when = f", retires on {model.retires_at:%Y-%m-%d}" if model.retires_at else ""
        label += f" (deprecated{when})"
    return {
        "picker_label": label,
        "lifecycle": model.lifecycle,
        "retires_at": model.retires_at.isoformat() if model.retires_at else None,
        "thinking_off_note": thinking.off_note(model.capabilities),
    }


# --- Checking what is asked for --------------------------------------------------------------


def _active_model(model_id: Any, user_id: int | None = None) -> ClaudeModel:
    if not isinstance(model_id, str):
        raise SettingsError("model must be a model id.")
    active = ClaudeModel.objects.filter(pk=model_id, is_active=True)
    model = model_access.allowed(active, user_id).first()
    if model is None:
        refused = active.first()  # a second read only to word the refusal
        if refused is not None:
            raise SettingsError(model_access.not_allowed_message(refused))
        raise SettingsError(f"Unknown model {model_id[:100]!r}.")
    return model


def model_id(value: Any, user_id: int | None = None) -> str:
    """An active catalog model the user's groups allow, or "auto" (the router picks per
    message, among the allowed models)."""
    if value == AUTO_MODEL:
        return value
    return _active_model(value, user_id).pk


def system_prompt(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_SYSTEM_PROMPT_CHARS:
        raise SettingsError(
            f"The system prompt must be text of at most {MAX_SYSTEM_PROMPT_CHARS:,} characters."
        )
    return value


def max_output_tokens(value: Any, model: ClaudeModel | None, default: int) -> int | None:
    """None (the default) or a whole number within the model's limit (without a model, the
    largest active one's, else ``default``: CHATAPP_MAX_OUTPUT_TOKENS)."""
    if value is None:
        return None
    limit = model.max_output_tokens if model else _largest_limit(default)
    where = f" for {model.display_name}" if model else ""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
        raise SettingsError(
            f"Max output tokens must be a whole number from 1 to {limit:,}{where}, "
            "or empty for the default."
        )
    return value


def _largest_limit(default: int) -> int:
    limits = ClaudeModel.objects.filter(is_active=True).values_list("max_output_tokens", flat=True)
    return max(limits, default=default)


def temperature(value: Any, model: ClaudeModel | None = None) -> None:
    """A temperature from an older client, preset or export: accepted and ignored (None is
    stored), since API version 2026-10-21 takes none on any model."""
    return None


def cache_ttl(value: Any) -> str:
    if value not in CacheTtl.values:
        raise SettingsError("The cache TTL must be “auto”, “5m” or “1h”.")
    return value


def changes(
    data: Mapping[str, Any], current_model: str, user_id: int | None = None, *, default_max: int
) -> dict[str, Any]:
    """The settings ``data`` asks for, checked against the model they will be used with (the
    one ``data`` names, else ``current_model``). Only the names present are returned.
    ``default_max``: CHATAPP_MAX_OUTPUT_TOKENS."""
    found: dict[str, Any] = {}
    if "system_prompt" in data:
        found["system_prompt"] = system_prompt(data["system_prompt"])
    if "model" in data:
        found["model"] = model_id(data["model"], user_id)
    wanted = found.get("model", current_model)
    model = None  # read only for the settings that are checked against it
    if "max_output_tokens" in data and wanted != AUTO_MODEL:
        model = ClaudeModel.objects.filter(pk=wanted).first()
    if "max_output_tokens" in data:
        found["max_output_tokens"] = max_output_tokens(
            data["max_output_tokens"], model, default_max
        )
    if "cache_ttl" in data:
        found["cache_ttl"] = cache_ttl(data["cache_ttl"])
    return found


# --- What a request gets ------------------------------------------------------------------------


def reply_max_tokens(conversation: Any, model: ClaudeModel | None, default: int) -> int:
    """``max_tokens`` of a reply: the conversation's choice (or ``default``,
    CHATAPP_MAX_OUTPUT_TOKENS), within the model's limit (a conversation moved to a model with
    a smaller one is capped, not refused)."""
    wanted = conversation.max_output_tokens or default
    return min(wanted, model.max_output_tokens) if model else wanted
