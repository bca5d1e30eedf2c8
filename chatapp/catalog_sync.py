"""Reconcile the model catalog with the models the API offers (``client.models.list()``).

New models are added inactive (staff set their tier and prices, then switch them on); models
the API no longer lists are switched off; limits are refreshed from the API. Prices are never
touched: the API does not publish them.
"""

from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from chatapp.claude import messages as claude_messages
from chatapp.claude.types import UpstreamError
from chatapp.models import ClaudeModel, ImageTier, ModelTier

_TIER_WORDS = {"haiku": ModelTier.HAIKU, "sonnet": ModelTier.SONNET, "opus": ModelTier.OPUS}


def _tier_from_id(model_id: str) -> str:
    return next((tier for word, tier in _TIER_WORDS.items() if word in model_id), ModelTier.SONNET)


@transaction.atomic
def reconcile(api_models: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Apply the API's list to the catalog; returns what changed."""
    offered = {model["id"]: model for model in api_models}
    report: dict[str, list[str]] = {"added": [], "updated": [], "retired": []}
    for model in ClaudeModel.objects.select_for_update():
        facts = offered.get(model.pk)
        if facts is None:
            if model.is_active:
                model.is_active = False
                model.save(update_fields=["is_active"])
                report["retired"].append(model.pk)
            continue
        changes = {
            "context_window": facts.get("max_input_tokens") or model.context_window,
            "max_output_tokens": facts.get("max_tokens") or model.max_output_tokens,
        }
        if any(getattr(model, name) != value for name, value in changes.items()):
            ClaudeModel.objects.filter(pk=model.pk).update(**changes)
            report["updated"].append(model.pk)
    known = set(ClaudeModel.objects.values_list("pk", flat=True))
    for model_id, facts in offered.items():
        if model_id in known:
            continue
        ClaudeModel.objects.create(
            id=model_id,
            display_name=facts.get("display_name") or model_id,
            tier=_tier_from_id(model_id),
            context_window=facts.get("max_input_tokens") or 200_000,
            max_output_tokens=facts.get("max_tokens") or 8192,
            image_tier=ImageTier.STANDARD,
            min_cacheable_tokens=4096,
            is_active=False,
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
    parts = [f"{name}: {', '.join(ids)}" for name, ids in report.items() if ids]
    return "Model catalog synced" + (f" ({'; '.join(parts)})" if parts else ", no changes")
