"""Replies that a stopped or crashed process left "streaming" are marked interrupted."""

from chatapp.models import Message, MessageStatus


def mark_orphaned_replies() -> int:
    """For the single-process embedded setup: at start-up, nothing else can be streaming."""
    return Message.objects.filter(status=MessageStatus.STREAMING).update(
        status=MessageStatus.INTERRUPTED,
        error_code="interrupted",
        error_message="The server stopped while this reply was being written.",
    )
