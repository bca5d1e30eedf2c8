"""Conversations nobody used: stored before the chat page waited for the first message
(issue 23), or left by a settings or preset choice never followed by a question. They are
removed when their owner next opens the chat page, once they are a few minutes old (a
conversation just created for an upload or a first message in flight is not touched)."""

from datetime import timedelta
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone

from chatapp.models import Attachment, Conversation, Message

# Old enough that no page is still about to send the first message into it.
ABANDONED_AFTER = timedelta(minutes=10)


def delete_abandoned(user: Any, keep: int | None = None) -> int:
    """Delete `user`'s untitled conversations with no message and no attachment, last changed
    over ABANDONED_AFTER ago (except `keep`, the one being opened); returns how many."""
    rows = (
        Conversation.objects.filter(
            owner=user, title="", updated_at__lt=timezone.now() - ABANDONED_AFTER
        )
        .exclude(Exists(Message.objects.filter(conversation=OuterRef("pk"))))
        .exclude(Exists(Attachment.objects.filter(conversation=OuterRef("pk"))))
    )
    if keep is not None:
        rows = rows.exclude(pk=keep)
    deleted, _ = rows.delete()
    return deleted
