"""Pinning and archiving conversations: how the sidebar files them (docs/protocol.md).

- Pinned conversations stand in a group of their own above the date groups, the most recently
  pinned first. Not by last use: a pinned conversation should keep the place the user gave it
  while they chat in it, and the one just pinned shows up at the top, where they look for it.
- Archived conversations leave the sidebar and search (unless asked for) and wait in the
  Archived list, where they can be opened, unarchived or deleted. Archiving unpins (pinned
  means "keep in sight", archived "out of sight"), and pinning an archived one brings it back.
- Neither touches ``updated_at``: a conversation filed away and back keeps its date group.
"""

from typing import Any

from asgiref.sync import async_to_sync
from django.core.exceptions import BadRequest
from django.utils import timezone

from chatapp.models import Conversation
from chatapp.streaming import broadcast

FLAGS = ("pinned", "archived")


def requested(data: dict[str, Any]) -> dict[str, bool]:
    """The filing flags named in a request body, or ``BadRequest`` in plain words."""
    flags: dict[str, bool] = {}
    for name in FLAGS:
        if name in data:
            if not isinstance(data[name], bool):
                raise BadRequest(f"{name} must be true or false.")
            flags[name] = data[name]
    if flags.get("pinned") and flags.get("archived"):
        raise BadRequest("A conversation cannot be pinned and archived at once.")
    return flags


def state(conversation: Conversation) -> dict[str, bool]:
    return {
        "pinned": conversation.pinned_at is not None,
        "archived": conversation.archived_at is not None,
    }


def _fields(conversation: Conversation, flags: dict[str, bool]) -> dict[str, Any]:
    """The columns to write for ``flags``; unchanged flags keep their timestamps."""
    wanted = state(conversation)
    wanted.update(flags)
    if flags.get("archived"):
        wanted["pinned"] = False
    if flags.get("pinned"):
        wanted["archived"] = False
    now = timezone.now()
    fields: dict[str, Any] = {}
    for name, column in (("pinned", "pinned_at"), ("archived", "archived_at")):
        if wanted[name] != (getattr(conversation, column) is not None):
            fields[column] = now if wanted[name] else None
    return fields


def file(conversation: Conversation, flags: dict[str, bool]) -> bool:
    """Pin, unpin, archive or unarchive; tell the conversation's open tabs. Whether anything
    changed."""
    fields = _fields(conversation, flags)
    if not fields:
        return False
    # An UPDATE of these columns only: save() would move updated_at (auto_now).
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    for column, value in fields.items():
        setattr(conversation, column, value)
    async_to_sync(announce)(conversation.pk, state(conversation))
    return True


async def announce(conversation_id: int, flags: dict[str, bool]) -> None:
    """Every tab showing the conversation hears its filing (`conversation_updated`)."""
    await broadcast.publish(conversation_id, {"type": "conversation_updated", **flags})
