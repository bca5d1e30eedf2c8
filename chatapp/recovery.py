"""Replies that a stopped or crashed process left "streaming" are marked interrupted."""

from asgiref.sync import async_to_sync
from django.conf import settings

from chatapp import budgets, liveness
from chatapp.models import Message, MessageStatus


def mark_orphaned_replies() -> int:
    """At start-up. One process (no Redis): nothing else can be streaming, so every streaming
    reply is interrupted. With Redis other processes may be writing theirs: only replies
    without a heartbeat are (see chatapp/liveness.py)."""
    if settings.REDIS_URL:
        return len(async_to_sync(liveness.sweep)(set, grace=False))
    budgets.release_all_open()  # what those replies reserved can never be settled now
    return Message.objects.filter(status=MessageStatus.STREAMING).update(
        status=MessageStatus.INTERRUPTED,
        error_code="interrupted",
        error_message="The server stopped while this reply was being written.",
    )
