"""Submitting batch jobs, the database side (sync; the poller calls it off the loop): jobs
claimed under a lease, each job's documents grouped into Message Batches within the API's
limits, a batch whose create got no answer looked up before it is sent again, the API's
answer recorded, a refusal given to the documents, a passing failure tried again later.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from chatapp.batches import jobs as batch_jobs
from chatapp.batches.policy import PollerPolicy
from chatapp.claude import batches as claude_batches
from chatapp.claude.types import UpstreamError
from chatapp.models import (
    BatchItem,
    BatchItemStatus,
    BatchJob,
    BatchJobStatus,
    ClaudeModel,
    MessageBatch,
    MessageBatchStatus,
)

# How long a poller may take to send a job's batches, or to read one batch's results, before
# another poller may take the work over.
WORK_LEASE = timedelta(minutes=10)
# A refused submission is tried again after this many seconds, doubling up to the maximum.
RETRY_SECONDS, RETRY_MAX_SECONDS = 5.0, 600.0
CLAIM_AT_ONCE = 20


def _lease_free(now: datetime) -> Q:
    return Q(submit_lease_until__isnull=True) | Q(submit_lease_until__lte=now)


def claim_jobs_to_submit() -> list[int]:
    """Jobs with something to send (or, once cancelled, unsent batches to settle)."""
    now = timezone.now()
    unsent = MessageBatch.objects.filter(job=OuterRef("pk"), status=MessageBatchStatus.SENDING)
    candidates = (
        BatchJob.objects.annotate(has_unsent=Exists(unsent))
        .filter(_lease_free(now))
        .filter(
            Q(status=BatchJobStatus.SUBMITTING)
            | Q(status=BatchJobStatus.CANCELLING, has_unsent=True)
        )
        .values_list("pk", flat=True)
    )
    claimed = []
    for job_id in list(candidates[:CLAIM_AT_ONCE]):
        taken = BatchJob.objects.filter(_lease_free(now), pk=job_id).update(
            submit_lease_until=now + WORK_LEASE, submit_attempts=F("submit_attempts") + 1
        )
        if taken:
            claimed.append(job_id)
    return claimed


def error_items(items, message: str, code: str = "invalid_request") -> None:
    items.filter(status=BatchItemStatus.PROCESSING).update(
        status=BatchItemStatus.ERRORED,
        error_code=code,
        error_message=message,
        completed_at=timezone.now(),
    )


def _long_output(job: BatchJob) -> bool:
    model = ClaudeModel.objects.filter(pk=job.model).first()
    return model is not None and batch_jobs.uses_long_output(job, model)


@dataclass(frozen=True)
class Unsent:
    """A batch an earlier attempt meant to create but got no answer for: the create may have
    made it (a timeout after the API took it), so it is looked up before anything is sent."""

    batch_id: int
    requests: list[claude_batches.BatchRequest]
    long_output: bool
    cancelled: bool  # the job was cancelled meanwhile: find it to cancel it, never send it
    custom_ids: frozenset[str]  # of every document given to this batch
    first_tried: datetime
    known_upstream_ids: frozenset[str]  # batches recorded since: someone else's, not this one


def unsent_batch(job_id: int) -> Unsent | None:
    """The job's first batch an earlier attempt created but could not send, with what it takes
    to look it up and its requests again (none once the job is cancelled)."""
    job = BatchJob.objects.get(pk=job_id)
    batch = job.batches.filter(status=MessageBatchStatus.SENDING).first()
    if batch is None:
        return None
    cancelled = job.cancel_requested_at is not None
    items = batch.items.filter(status=BatchItemStatus.PROCESSING)
    since = batch.created_at - claude_batches.CLOCK_SKEW
    known = MessageBatch.objects.filter(upstream_id__isnull=False, created_at__gte=since)
    return Unsent(
        batch_id=batch.pk,
        requests=[] if cancelled else list(_lazy_requests(job, items)),
        long_output=batch.long_output,
        cancelled=cancelled,
        custom_ids=frozenset(batch.items.values_list("custom_id", flat=True)),
        first_tried=batch.created_at,
        known_upstream_ids=frozenset(known.values_list("upstream_id", flat=True)),
    )


def drop_unsent(batch_id: int) -> None:
    """A cancelled job's batch that was never created upstream: its documents are cancelled."""
    with transaction.atomic():
        batch = MessageBatch.objects.get(pk=batch_id)
        batch.items.filter(status=BatchItemStatus.PROCESSING).update(
            status=BatchItemStatus.CANCELLED, completed_at=timezone.now()
        )
        batch.status = MessageBatchStatus.FAILED
        batch.error_message = "Cancelled before it was sent."
        batch.results_recorded = True
        batch.save(update_fields=["status", "error_message", "results_recorded"])
        batch_jobs.settle_reservation(batch.job_id)


def next_batch(
    job_id: int, policy: PollerPolicy
) -> tuple[int, list[claude_batches.BatchRequest], bool] | None:
    """The next group of the job's unsent items that fits in one Message Batch (the policy's
    size limits), recorded as a ``MessageBatch`` about to be sent; None when nothing is left
    (or the job was cancelled)."""
    job = BatchJob.objects.get(pk=job_id)
    if job.cancel_requested_at is not None:
        return None
    unassigned = job.items.filter(batch__isnull=True, status=BatchItemStatus.PROCESSING)
    groups = claude_batches.split(
        _lazy_requests(job, unassigned),
        max_count=policy.max_requests,
        max_bytes=policy.max_bytes,
    )
    group = next(groups, None)
    groups.close()  # the rest is read on the next call, after this group is assigned
    if group is None:
        return None
    long_output = _long_output(job)
    with transaction.atomic():
        batch = MessageBatch.objects.create(job=job, long_output=long_output)
        # An item cancelled meanwhile stays out.
        unassigned.filter(custom_id__in=[r.custom_id for r in group]).update(batch=batch)
        kept = set(batch.items.values_list("custom_id", flat=True))
    return batch.pk, [request for request in group if request.custom_id in kept], long_output


def _lazy_requests(job: BatchJob, items):
    """Requests one at a time, so a job of any size is read one batch's worth at a time."""
    thinking_params = batch_jobs.thinking_off(job)
    for item in items.select_related("document").order_by("id").iterator():
        try:
            yield batch_jobs.item_request(job, item, thinking_params)
        except (FileNotFoundError, OSError):
            with transaction.atomic():
                error_items(
                    BatchItem.objects.filter(pk=item.pk),
                    f"The document {item.document_name!r} was removed before the job was sent.",
                )
                batch_jobs.settle_reservation(job.pk)


def record_sent(batch_id: int, state: claude_batches.BatchState, policy: PollerPolicy) -> None:
    MessageBatch.objects.filter(pk=batch_id).update(
        upstream_id=state.upstream_id,
        status=state.processing_status,
        request_counts=state.counts,
        expires_at=state.expires_at,
        next_poll_at=timezone.now() + timedelta(seconds=policy.poll_seconds),
        poll_interval_seconds=policy.poll_seconds,
    )


def record_refused(batch_id: int, error: UpstreamError) -> None:
    """The API will not take this batch: its documents get the API's reason."""
    with transaction.atomic():
        batch = MessageBatch.objects.get(pk=batch_id)
        error_items(batch.items.all(), error.message, error.code)
        batch.status = MessageBatchStatus.FAILED
        batch.error_message = error.message
        batch.results_recorded = True
        batch.save(update_fields=["status", "error_message", "results_recorded"])
        batch_jobs.settle_reservation(batch.job_id)


def retry_later(job_id: int) -> None:
    """A passing failure: let go of the job and try again after a growing pause."""
    job = BatchJob.objects.get(pk=job_id)
    pause = min(RETRY_SECONDS * 2 ** max(job.submit_attempts - 1, 0), RETRY_MAX_SECONDS)
    BatchJob.objects.filter(pk=job_id).update(
        submit_lease_until=timezone.now() + timedelta(seconds=pause)
    )


def submission_done(job_id: int) -> None:
    BatchJob.objects.filter(pk=job_id, status=BatchJobStatus.SUBMITTING).update(
        status=BatchJobStatus.IN_PROGRESS
    )
    BatchJob.objects.filter(pk=job_id).update(submit_lease_until=None)
    batch_jobs.finish_if_done(job_id)

