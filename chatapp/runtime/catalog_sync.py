"""Reconcile the model catalog with the models the API offers (``client.models.list()``).

New models are added inactive (staff set their tier and prices, then switch them on), with the
thinking capabilities the API reports; limits and lifecycles (``lifecycle``, ``deprecated_at``,
``retires_at``) are refreshed from the API. A deprecated model stays offered and is marked in
the picker; a retired one (so reported, or no longer listed: the API lists active and
deprecated models) is switched off and its conversations move to its successor, with a note.
Prices are never touched: the API does not publish them.
"""

from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils.dateparse import parse_datetime

from chatapp.billing import prices
from chatapp.claude import messages as claude_messages
from chatapp.claude.catalog import move_conversations
from chatapp.claude.types import UpstreamError
from chatapp.models import (
    ClaudeModel,
    Conversation,
    ImageTier,
    Message,
    ModelLifecycle,
    ModelTier,
)

# The API's model lines → the catalog's tiers (the lines above Opus share its top tier).
_TIERS = {"haiku": ModelTier.HAIKU, "sonnet": ModelTier.SONNET, "opus": ModelTier.OPUS,
          "fable": ModelTier.OPUS, "mythos": ModelTier.OPUS}
# How Off is sent, by the thinking types the API says a model takes (first match wins); a model
# that takes none of them cannot turn thinking off: Off is its lowest effort.
_OFF_BY_TYPE = (("disabled", "disabled"), ("between_tools", "between_tools"))


def _tier(facts: dict[str, Any]) -> str:
    """The API's ``line`` (the id is not to be parsed), else the middle tier."""
    return _TIERS.get(str(facts.get("line") or ""), ModelTier.SONNET)


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(str(value))


def _supported(node: Any) -> bool:
    return isinstance(node, dict) and bool(node.get("supported"))


def thinking_capabilities(api_capabilities: dict[str, Any] | None) -> dict[str, Any]:
    """The catalog's thinking keys (chatapp/claude/thinking.py) from a model's ``capabilities``."""
    caps = api_capabilities or {}
    types = (caps.get("thinking") or {}).get("types") or {}
    effort = caps.get("effort") or {}
    taken = {name for name, node in types.items() if _supported(node)}
    found: dict[str, Any] = {
        "thinking": ["adaptive"] if "adaptive" in taken else ["enabled"] if "enabled" in taken
        else [],
        "efforts": [level for level in ("low", "medium", "high", "xhigh", "max")
                    if _supported(effort.get(level))],
    }
    off = next((mode for kind, mode in _OFF_BY_TYPE if kind in taken), None)
    found["thinking_off"] = off or ("low_effort" if found["efforts"] else "omit")
    return found


def _lifecycle(facts: dict[str, Any]) -> dict[str, Any]:
    lifecycle = facts.get("lifecycle") or ModelLifecycle.ACTIVE
    return {
        "lifecycle": lifecycle if lifecycle in ModelLifecycle.values else ModelLifecycle.ACTIVE,
        "deprecated_at": _when(facts.get("deprecated_at")),
        "retires_at": _when(facts.get("retires_at")),
    }


def retire(model: ClaudeModel, retired_on: datetime | None = None) -> int:
    """Switch a retired model off and move its conversations to its successor (with a note);
    returns how many moved."""
    model.retires_at = retired_on or model.retires_at
    ClaudeModel.objects.filter(pk=model.pk).update(
        is_active=False, lifecycle=ModelLifecycle.RETIRED, retires_at=model.retires_at
    )
    if model.successor is None:
        return 0
    return move_conversations(Conversation, Message, model, model.successor)


@transaction.atomic
def reconcile(api_models: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Apply the API's list to the catalog; returns what changed."""
    offered = {model["id"]: model for model in api_models}
    report: dict[str, list[str]] = {"added": [], "updated": [], "deprecated": [], "retired": []}
    for model in ClaudeModel.objects.select_for_update(of=("self",)).select_related("successor"):
        facts = offered.get(model.pk)
        if facts is None or facts.get("lifecycle") == ModelLifecycle.RETIRED:
            if model.is_active or model.lifecycle != ModelLifecycle.RETIRED:
                retire(model, _when((facts or {}).get("retires_at")))
                report["retired"].append(model.pk)
            continue
        changes = {
            "context_window": facts.get("max_input_tokens") or model.context_window,
            "max_output_tokens": facts.get("max_tokens") or model.max_output_tokens,
            **_lifecycle(facts),
        }
        if any(getattr(model, name) != value for name, value in changes.items()):
            if (changes["lifecycle"] == ModelLifecycle.DEPRECATED
                    and model.lifecycle != ModelLifecycle.DEPRECATED):
                report["deprecated"].append(model.pk)
            ClaudeModel.objects.filter(pk=model.pk).update(**changes)
            report["updated"].append(model.pk)
    known = set(ClaudeModel.objects.values_list("pk", flat=True))
    for model_id, facts in offered.items():
        if model_id in known or facts.get("lifecycle") == ModelLifecycle.RETIRED:
            continue
        ClaudeModel.objects.create(
            id=model_id,
            display_name=facts.get("display_name") or model_id,
            tier=_tier(facts),
            context_window=facts.get("max_input_tokens") or 200_000,
            max_output_tokens=facts.get("max_tokens") or 8192,
            image_tier=ImageTier.STANDARD,
            min_cacheable_tokens=4096,
            capabilities=thinking_capabilities(facts.get("capabilities")),
            is_active=False,
            **_lifecycle(facts),
        )
        report["added"].append(model_id)
    return report


def sync_catalog() -> str:
    """Fetch the API's models and reconcile; a one-line summary for the console."""
    try:
        api_models = async_to_sync(claude_messages.list_models)()
    except UpstreamError as exc:
        return f"Model catalog not synced: {exc.message}"
    report = reconcile(api_models)
    prices.forget_prices()  # models may have been retired: the title model is chosen again
    parts = [f"{name}: {', '.join(ids)}" for name, ids in report.items() if ids]
    return "Model catalog synced" + (f" ({'; '.join(parts)})" if parts else ", no changes")
