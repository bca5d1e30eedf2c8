"""Sent batches watched, the database side (sync; the poller calls it off the loop): batches
claimed when due, looked at ever less often while nothing changes (backoff), their state
recorded, a batch the API no longer knows failed, cancellations claimed once.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from chatapp.batches import jobs as batch_jobs
from chatapp.batches.policy import PollerPolicy
from chatapp.batches.submission import CLAIM_AT_ONCE, record_refused
from chatapp.claude import batches as claude_batches
from chatapp.claude.types import UpstreamError
from chatapp.models import MessageBatch, MessageBatchStatus


def _next_interval(current: float, policy: PollerPolicy) -> float:
    grown = max(current * 2, policy.poll_seconds)
    return min(grown, policy.poll_max_seconds)


def claim_due(
    statuses: list[str], policy: PollerPolicy, *, lease: timedelta | None = None
) -> list[tuple[int, str]]:
    """(id, upstream id) of batches in ``statuses`` that are due, each pushed back so that no
    other poller takes it meanwhile: by its next backoff interval, or by ``lease``."""
    now = timezone.now()
    due = MessageBatch.objects.filter(status__in=statuses).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    )
    if MessageBatchStatus.ENDED in statuses:
        due = due.filter(results_recorded=False)
    claimed = []
    for pk, upstream_id, was_due, interval in due.values_list(
        "pk", "upstream_id", "next_poll_at", "poll_interval_seconds"
    )[:CLAIM_AT_ONCE]:
        wait = lease or timedelta(seconds=_next_interval(interval, policy))
        changes = {"next_poll_at": now + wait}
        if lease is None:
            changes["poll_interval_seconds"] = _next_interval(interval, policy)
        if MessageBatch.objects.filter(pk=pk, next_poll_at=was_due).update(**changes):
            claimed.append((pk, upstream_id))
    return claimed


def record_state(batch_id: int, state: claude_batches.BatchState) -> None:
    changes = {"status": state.processing_status, "request_counts": state.counts}
    if state.processing_status == MessageBatchStatus.ENDED:
        changes.update(ended_at=state.ended_at, next_poll_at=None)
    MessageBatch.objects.filter(pk=batch_id).update(**changes)


def record_lost(batch_id: int, error: UpstreamError) -> None:
    """The API no longer knows the batch (deleted, or its results are gone after 29 days)."""
    record_refused(batch_id, error)
    batch_jobs.finish_if_done(MessageBatch.objects.get(pk=batch_id).job_id)


def batches_to_cancel() -> list[tuple[int, str]]:
    rows = MessageBatch.objects.filter(
        status=MessageBatchStatus.IN_PROGRESS,
        cancel_sent=False,
        job__cancel_requested_at__isnull=False,
    ).values_list("pk", "upstream_id")[:CLAIM_AT_ONCE]
    return [
        (pk, upstream_id) for pk, upstream_id in rows
        if MessageBatch.objects.filter(pk=pk, cancel_sent=False).update(cancel_sent=True)
    ]


def cancel_failed(batch_id: int) -> None:
    MessageBatch.objects.filter(pk=batch_id).update(cancel_sent=False)

