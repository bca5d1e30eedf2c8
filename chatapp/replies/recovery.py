"""Replies that a stopped or crashed process left "streaming" are marked interrupted, and the
calls their last checkpoint knew of are billed as estimates."""

from asgiref.sync import async_to_sync

from chatapp.models import BudgetReservation, Message, MessageStatus
from chatapp.replies.policy import ProcessPolicy


def mark_orphaned_replies(process: ProcessPolicy) -> int:
    """At start-up. One process (no Redis): nothing else can be streaming, so every streaming
    reply is interrupted. With Redis other processes may be writing theirs: only replies
    without a heartbeat are (see chatapp/replies/liveness.py).

    Billing and budgets are imported only when there is something to end: they bring the
    anthropic SDK (seconds of CPU), which `make run`'s launcher otherwise never needs."""
    if process.redis_url:
        from chatapp.replies import liveness

        return len(async_to_sync(liveness.sweep)(set, process, grace=False))
    if not _left_open():
        return 0
    from chatapp.billing import reservations
    from chatapp.replies import checkpoints

    reservations.release_all_open()  # what those replies reserved can never be settled now
    orphans = Message.objects.filter(status=MessageStatus.STREAMING).values_list("pk", flat=True)
    # One at a time: each is billed from its last checkpoint (chatapp/replies/checkpoints.py).
    ended = [
        checkpoints.end_orphan(
            message_id,
            status=MessageStatus.INTERRUPTED,
            error_code="interrupted",
            error_message="The server stopped while this reply was being written.",
        )
        for message_id in list(orphans)
    ]
    return sum(reply is not None for reply in ended)


def _left_open() -> bool:
    """Whether a stopped process left a reply streaming or a call's budget reserved (what
    ``reservations.release_all_open`` frees: batch jobs' reservations outlive processes)."""
    return (
        Message.objects.filter(status=MessageStatus.STREAMING).exists()
        or BudgetReservation.objects.filter(batch_job__isnull=True).exists()
    )
