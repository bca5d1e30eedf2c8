"""Prompt presets: a user's reusable system prompts, each optionally with a model, applied to a
conversation's settings or used to start a new chat.

No temperature (API version 2026-10-21 takes none): one sent is ignored; one stored before is
kept in the table and shown, never applied.

Checking is ``conversation_settings``'s (the same words for the same mistakes); fetching goes
through the owner (``access.get_preset_for_user``). Synchronous (ORM).
"""

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from chatapp.conversations import settings as conversation_settings
from chatapp.conversations.settings import SettingsError
from chatapp.models import PromptPreset

MAX_PRESETS = 50
MAX_NAME_CHARS = 100


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME_CHARS:
        raise SettingsError(f"A preset needs a name of 1 to {MAX_NAME_CHARS} characters.")
    return name


def _model(value: Any) -> str:
    """ "" (keep the conversation's model), "auto", or an active catalog model."""
    if value in (None, ""):
        return ""
    return conversation_settings.model_id(value)


def _checked(data: Mapping[str, Any], preset: PromptPreset | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if "name" in data or preset is None:
        found["name"] = _name(data.get("name"))
    if "system_prompt" in data:
        found["system_prompt"] = conversation_settings.system_prompt(data["system_prompt"])
    if "model" in data:
        found["model"] = _model(data["model"])
    return found


def _save(preset: PromptPreset) -> PromptPreset:
    try:
        with transaction.atomic():
            preset.save()
    except IntegrityError:  # one_preset_name_per_user: the name is taken, maybe just now
        raise SettingsError(f"You already have a preset named “{preset.name}”.") from None
    return preset


def create(owner: Any, data: Mapping[str, Any]) -> PromptPreset:
    """A new preset of ``owner``; ``SettingsError`` in plain words, nothing saved."""
    if PromptPreset.objects.filter(owner=owner).count() >= MAX_PRESETS:
        raise SettingsError(f"You can keep at most {MAX_PRESETS} presets: delete one first.")
    return _save(PromptPreset(owner=owner, **_checked(data, None)))


def update(preset: PromptPreset, data: Mapping[str, Any]) -> PromptPreset:
    for name, value in _checked(data, preset).items():
        setattr(preset, name, value)
    return _save(preset)


def conversation_fields(preset: PromptPreset) -> dict[str, Any]:
    """What applying the preset sets on a conversation: its system prompt always, its model
    when it has one."""
    found: dict[str, Any] = {"system_prompt": preset.system_prompt}
    if preset.model:
        try:
            found["model"] = conversation_settings.model_id(preset.model)
        except SettingsError:
            raise SettingsError(
                f"The preset “{preset.name}” names a model that is no longer offered "
                f"({preset.model}): edit the preset."
            ) from None
        # Offered, but perhaps not to this user's groups (issue 21): refused in their words.
        conversation_settings.model_id(preset.model, preset.owner_id)
    return found


def as_json(preset: PromptPreset) -> dict[str, Any]:
    return {
        "id": preset.pk,
        "name": preset.name,
        "system_prompt": preset.system_prompt,
        "model": preset.model or None,
        "created_at": preset.created_at.isoformat(),
        "updated_at": preset.updated_at.isoformat(),
    }
