"""Versions of a conversation: edited questions and regenerated replies as a tree.

Every message points at the one it follows (``Message.parent``). Editing a question or
regenerating a reply adds a *sibling* (same parent) and never rewrites a stored message. The
branch on screen is one path from the first message to a leaf; exactly the messages on it
have ``superseded=False``. Ids grow along every path, so the history before a message is
still "not superseded, smaller id" for every module that builds a prompt.

Synchronous ORM helpers: callers run them in a transaction, off the event loop.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from chatapp.models import Conversation, Message, MessageStatus
from chatapp.streaming import broadcast

BRANCH_CHANGED = {"type": "branch_changed"}


class BranchRefused(Exception):
    """The branch cannot change now; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Versions:
    """Where a message stands among its siblings: ‹ index / count ›."""

    index: int  # 1-based
    count: int
    previous_id: int | None
    next_id: int | None

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "count": self.count,
                "previous_id": self.previous_id, "next_id": self.next_id}


def leaf_id(conversation: Conversation) -> int | None:
    """The last message of the branch on screen: what a new question follows."""
    return (
        conversation.messages.on_screen()
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )


def parents(conversation: Conversation) -> dict[int, int | None]:
    """Each message's parent. Messages saved without one (older code paths, fixtures) follow
    their question (a reply) or the message before them, as conversations were linear then;
    only the first message and new versions of it (``options["edit_of"]``) are roots."""
    rows = conversation.messages.order_by("id").values_list(
        "pk", "parent_id", "reply_to_id", "options"
    )
    tree: dict[int, int | None] = {}
    previous = None
    for pk, parent, reply_to, options in rows:
        if parent is None and not (options or {}).get("edit_of"):
            parent = reply_to or previous
        tree[pk] = parent
        previous = pk
    return tree


def versions(conversation: Conversation) -> dict[int, Versions]:
    """Every message that has other versions, with its place among them."""
    siblings: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in sorted(parents(conversation).items()):
        siblings[parent].append(pk)
    found = {}
    for group in siblings.values():
        if len(group) < 2:
            continue
        for number, pk in enumerate(group):
            found[pk] = Versions(
                index=number + 1,
                count=len(group),
                previous_id=group[number - 1] if number else None,
                next_id=group[number + 1] if number + 1 < len(group) else None,
            )
    return found


def _show_path(conversation: Conversation, path: set[int]) -> None:
    rows = conversation.messages
    rows.filter(pk__in=path).exclude(superseded=False).update(superseded=False)
    rows.exclude(pk__in=path).exclude(superseded=True).update(superseded=True)
    through = conversation.summary_through_id
    if through is not None and through not in path:
        # The summary spoke for messages no longer on screen: build a new one when needed.
        conversation.summary, conversation.summary_through = "", None
        conversation.save(update_fields=["summary", "summary_through", "updated_at"])


def _refuse_if_streaming(conversation: Conversation) -> None:
    if conversation.messages.filter(status=MessageStatus.STREAMING).exists():
        raise BranchRefused("busy", "Wait for the reply being written, or stop it first.")


def show(conversation: Conversation, message_id: int) -> list[int]:
    """Put the branch through ``message_id`` on screen, down to its newest leaf. Returns
    the ids on screen, first to last. Call inside a transaction that locks the conversation."""
    tree = parents(conversation)
    if message_id not in tree:
        raise BranchRefused("not_found", "No such message in this conversation.")
    _refuse_if_streaming(conversation)
    path = []
    node: int | None = message_id
    while node is not None and node not in path:  # `not in`: a cycle must not hang us
        path.append(node)
        node = tree.get(node)
    path.reverse()
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in tree.items():
        children[parent].append(pk)
    node = message_id
    while children.get(node):
        node = max(children[node])
        path.append(node)
    _show_path(conversation, set(path))
    return path


def fork_at(conversation: Conversation, message: Message) -> int | None:
    """Take ``message`` and everything after it off screen, so that a new version of it
    (a sibling: same parent) can follow. Returns that parent's id."""
    parent = parents(conversation)[message.pk]
    conversation.messages.on_screen().filter(pk__gte=message.pk).update(superseded=True)
    through = conversation.summary_through_id
    if through is not None and through >= message.pk:
        conversation.summary, conversation.summary_through = "", None
        conversation.save(update_fields=["summary", "summary_through", "updated_at"])
    return parent


@transaction.atomic
def switch(conversation_id: int, message_id: int) -> Conversation:
    """``show`` with the conversation locked (no reply may start meanwhile)."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    show(conversation, message_id)
    return conversation


async def announce(conversation_id: int) -> None:
    """Tell every tab of the conversation that the branch on screen changed: they fetch the
    conversation again (frames that follow are merged by id and seq as usual)."""
    await broadcast.publish(conversation_id, BRANCH_CHANGED)
