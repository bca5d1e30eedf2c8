"""The batch poller: the one worker that talks to the Message Batches API for batch jobs.

Each tick it submits waiting jobs (split into Message Batches within the API's limits), sends
cancellations, looks at running batches when they are due (with backoff: ever less often while
nothing changes), and streams the results of ended batches into their items. `make run` starts
it beside the server; deployments can run ``manage.py poll_batches`` on their own.

Any number of pollers may run, and any may be stopped at any point: every piece of work is
claimed with a conditional UPDATE (a lease that runs out if its poller dies), and a result is
recorded only on an item still ``processing``, in a transaction that locks it. So a restarted
poller downloads the results again and records only what was not recorded yet. The same
transactions give back the budget reserved for documents that are done
(``batch_jobs.settle_reservation``, idempotent), so no share is released twice.

A batch is never created twice: a create carries no idempotency key, so it is made in one
attempt (the SDK's own retries off), and a create that got no answer (a timeout, a 5xx, a
dropped connection, a poller stopped halfway) leaves its ``MessageBatch`` in ``sending``. The
next attempt first looks for it upstream (``claude.batches.find_created``): found, it is
adopted; possibly still running, the job waits; surely absent, it is created again.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from chatapp.batches import jobs as batch_jobs
from chatapp.billing import accounting
from chatapp.claude import batches as claude_batches
from chatapp.claude.types import UpstreamError
from chatapp.models import (
    BatchItem,
    BatchItemStatus,
    BatchJob,
    BatchJobStatus,
    CallPurpose,
    ClaudeModel,
    MessageBatch,
    MessageBatchStatus,
)
from chatapp.operations import heartbeat

log = logging.getLogger(__name__)

# How long a poller may take to send a job's batches, or to read one batch's results, before
# another poller may take the work over.
WORK_LEASE = timedelta(minutes=10)
# A refused submission is tried again after this many seconds, doubling up to the maximum.
RETRY_SECONDS, RETRY_MAX_SECONDS = 5.0, 600.0
CLAIM_AT_ONCE = 20

_OUTCOME_STATUS = {
    "succeeded": BatchItemStatus.SUCCEEDED,
    "errored": BatchItemStatus.ERRORED,
    "canceled": BatchItemStatus.CANCELLED,
    "expired": BatchItemStatus.EXPIRED,
}


# ---------------------------------------------------------------- submitting (sync parts)


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


def _error_items(items, message: str, code: str = "invalid_request") -> None:
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


def next_batch(job_id: int) -> tuple[int, list[claude_batches.BatchRequest], bool] | None:
    """The next group of the job's unsent items that fits in one Message Batch, recorded as a
    ``MessageBatch`` about to be sent; None when nothing is left (or the job was cancelled)."""
    job = BatchJob.objects.get(pk=job_id)
    if job.cancel_requested_at is not None:
        return None
    unassigned = job.items.filter(batch__isnull=True, status=BatchItemStatus.PROCESSING)
    groups = claude_batches.split(
        _lazy_requests(job, unassigned),
        max_count=settings.CHATAPP_BATCH_MAX_REQUESTS,
        max_bytes=settings.CHATAPP_BATCH_MAX_BYTES,
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
                _error_items(
                    BatchItem.objects.filter(pk=item.pk),
                    f"The document {item.document_name!r} was removed before the job was sent.",
                )
                batch_jobs.settle_reservation(job.pk)


def record_sent(batch_id: int, state: claude_batches.BatchState) -> None:
    MessageBatch.objects.filter(pk=batch_id).update(
        upstream_id=state.upstream_id,
        status=state.processing_status,
        request_counts=state.counts,
        expires_at=state.expires_at,
        next_poll_at=timezone.now() + timedelta(seconds=settings.CHATAPP_BATCH_POLL_SECONDS),
        poll_interval_seconds=settings.CHATAPP_BATCH_POLL_SECONDS,
    )


def record_refused(batch_id: int, error: UpstreamError) -> None:
    """The API will not take this batch: its documents get the API's reason."""
    with transaction.atomic():
        batch = MessageBatch.objects.get(pk=batch_id)
        _error_items(batch.items.all(), error.message, error.code)
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


# ---------------------------------------------------------------- polling (sync parts)


def _next_interval(current: float) -> float:
    grown = max(current * 2, settings.CHATAPP_BATCH_POLL_SECONDS)
    return min(grown, settings.CHATAPP_BATCH_POLL_MAX_SECONDS)


def claim_due(statuses: list[str], *, lease: timedelta | None = None) -> list[tuple[int, str]]:
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
        wait = lease or timedelta(seconds=_next_interval(interval))
        changes = {"next_poll_at": now + wait}
        if lease is None:
            changes["poll_interval_seconds"] = _next_interval(interval)
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


# ---------------------------------------------------------------- results (sync parts)


def _apply(item: BatchItem, result: claude_batches.BatchResult, job: BatchJob) -> None:
    item.status = _OUTCOME_STATUS.get(result.outcome, BatchItemStatus.ERRORED)
    item.completed_at = timezone.now()
    if result.outcome == "succeeded" and result.usage is not None:
        record = accounting.record_call(
            user_id=job.owner_id,
            purpose=CallPurpose.BATCH,
            model_id=job.model,
            usage=result.usage,
            batch=True,
        )
        item.content = result.content
        item.stop_reason = result.stop_reason
        item.upstream_id = result.message_id
        for name, value in result.usage.as_dict().items():
            setattr(item, name, value)
        item.cost_usd, item.cost_breakdown = record.cost_usd, record.cost_breakdown
    elif result.error is not None:
        item.error_code, item.error_message = result.error.code, result.error.message
    item.save()


def record_results(batch_id: int, results: list[claude_batches.BatchResult]) -> int:
    """Record results on items still processing; how many were new. Idempotent: an item
    already recorded (by this poller before a restart, or by another) is left alone."""
    by_id = {result.custom_id: result for result in results}
    with transaction.atomic():
        batch = MessageBatch.objects.select_related("job").get(pk=batch_id)
        items = BatchItem.objects.select_for_update().filter(
            batch_id=batch_id, custom_id__in=by_id, status=BatchItemStatus.PROCESSING
        )
        recorded = 0
        for item in items:
            _apply(item, by_id[item.custom_id], batch.job)
            recorded += 1
        if recorded:  # the answers' cost is now spent: their shares are no longer held
            batch_jobs.settle_reservation(batch.job_id)
    return recorded


def results_done(batch_id: int) -> None:
    """Every result is in: an item the results did not mention errors, the job may end."""
    with transaction.atomic():
        batch = MessageBatch.objects.get(pk=batch_id)
        _error_items(batch.items.all(), "No result came back for this document.", "upstream_error")
        MessageBatch.objects.filter(pk=batch_id).update(results_recorded=True, next_poll_at=None)
        batch_jobs.settle_reservation(batch.job_id)
    batch_jobs.finish_if_done(batch.job_id)


def release(batch_id: int) -> None:
    """Reading results failed: let any poller try again right away (at the next tick)."""
    MessageBatch.objects.filter(pk=batch_id).update(next_poll_at=timezone.now())


# ---------------------------------------------------------------- the poller


def _db(function):
    return database_sync_to_async(function)


class BatchPoller:
    """One worker. ``tick`` does whatever is due once; ``run`` ticks until told to stop."""

    def __init__(self, *, results_chunk: int = 200) -> None:
        self.results_chunk = results_chunk

    async def tick(self) -> None:
        await heartbeat.beat()  # /readyz: a poller is at work (also `poll_batches --once`)
        await self.submit_jobs()
        await self.send_cancellations()
        await self.poll_batches()
        await self.collect_results()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("Batch poller running")
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # a bug must not stop the worker; the next tick tries again
                log.exception("Batch poller tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.CHATAPP_BATCH_IDLE_SECONDS)

    # -- submitting

    async def submit_jobs(self) -> None:
        for job_id in await _db(claim_jobs_to_submit)():
            await self._submit(job_id)

    async def _submit(self, job_id: int) -> None:
        while (unsent := await _db(unsent_batch)(job_id)) is not None:
            if not await self._resend(job_id, unsent):
                return
        while (work := await _db(next_batch)(job_id)) is not None:
            if not await self._send(job_id, *work):
                return
        await _db(submission_done)(job_id)

    async def _send(
        self, job_id: int, batch_id: int, requests: list, long_output: bool
    ) -> bool:
        """Send one batch; False when the job should wait and be tried again later."""
        if not requests:
            await _db(record_refused)(batch_id, UpstreamError(
                "invalid_request", "None of these documents could be sent."))
            return True
        try:
            state = await claude_batches.submit(requests, long_output=long_output)
        except UpstreamError as error:
            if error.retryable:
                log.warning("Batch job %s not sent yet: %s", job_id, error)
                await _db(retry_later)(job_id)
                return False
            await _db(record_refused)(batch_id, error)
            return True
        await _db(record_sent)(batch_id, state)
        return True

    async def _resend(self, job_id: int, unsent: Unsent) -> bool:
        """Adopt the batch an unanswered create made, or send it again if it made none;
        False when the job should wait (the lookup failed, or cannot decide yet)."""
        try:
            lookup = await claude_batches.find_created(
                unsent.custom_ids, sent_after=unsent.first_tried,
                exclude=unsent.known_upstream_ids,
            )
        except UpstreamError as error:
            log.warning("Batch job %s: looking for an unanswered batch failed: %s", job_id, error)
            await _db(retry_later)(job_id)
            return False
        if lookup.found is not None:
            log.info("Batch job %s: the unanswered create made %s; adopted",
                     job_id, lookup.found.upstream_id)
            await _db(record_sent)(unsent.batch_id, lookup.found)
            return True
        if lookup.undecided:  # creating now could make a second batch of the same documents
            await _db(retry_later)(job_id)
            return False
        if unsent.cancelled:
            await _db(drop_unsent)(unsent.batch_id)
            return True
        return await self._send(job_id, unsent.batch_id, unsent.requests, unsent.long_output)

    # -- cancelling

    async def send_cancellations(self) -> None:
        for batch_id, upstream_id in await _db(batches_to_cancel)():
            try:
                state = await claude_batches.cancel(upstream_id)
            except UpstreamError as error:
                log.warning("Cancelling batch %s failed: %s", upstream_id, error)
                await _db(cancel_failed)(batch_id)
                continue
            await _db(record_state)(batch_id, state)

    # -- polling

    async def poll_batches(self) -> None:
        due = await _db(claim_due)([MessageBatchStatus.IN_PROGRESS, MessageBatchStatus.CANCELING])
        for batch_id, upstream_id in due:
            try:
                state = await claude_batches.retrieve(upstream_id)
            except UpstreamError as error:
                if error.status == 404:
                    await _db(record_lost)(batch_id, error)
                else:  # looked at again after the next, longer interval
                    log.warning("Looking at batch %s failed: %s", upstream_id, error)
                continue
            await _db(record_state)(batch_id, state)

    # -- results

    async def collect_results(self) -> None:
        ended = await _db(claim_due)([MessageBatchStatus.ENDED], lease=WORK_LEASE)
        for batch_id, upstream_id in ended:
            try:
                await self._collect(batch_id, upstream_id)
            except UpstreamError as error:
                log.warning("Reading the results of batch %s failed: %s", upstream_id, error)
                await _db(release)(batch_id)
                continue
            await _db(results_done)(batch_id)

    async def _collect(self, batch_id: int, upstream_id: str) -> None:
        chunk: list[claude_batches.BatchResult] = []
        async for result in claude_batches.results(upstream_id):
            chunk.append(result)
            if len(chunk) >= self.results_chunk:
                await _db(record_results)(batch_id, chunk)
                chunk = []
        if chunk:
            await _db(record_results)(batch_id, chunk)
