"""The batch poller: the one worker that talks to the Message Batches API for batch jobs.

Each tick it submits waiting jobs (split into Message Batches within the API's limits), sends
cancellations, looks at running batches when they are due (with backoff: ever less often while
nothing changes), and streams the results of ended batches into their items. `make run` starts
it beside the server; deployments can run ``manage.py poll_batches`` on their own.
The database side of each step, synchronous and run off the loop, is in ``submission.py``,
``polling.py`` and ``results.py``; this module is the async worker that calls the API.

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

from channels.db import database_sync_to_async

from chatapp.batches.policy import PollerPolicy
from chatapp.batches.polling import (
    batches_to_cancel,
    cancel_failed,
    claim_due,
    record_lost,
    record_state,
)
from chatapp.batches.results import record_results, release, results_done
from chatapp.batches.submission import (
    WORK_LEASE,
    Unsent,
    claim_jobs_to_submit,
    drop_unsent,
    next_batch,
    record_refused,
    record_sent,
    retry_later,
    submission_done,
    unsent_batch,
)
from chatapp.claude import batches as claude_batches
from chatapp.claude.types import UpstreamError
from chatapp.models import MessageBatchStatus
from chatapp.operations import heartbeat

log = logging.getLogger(__name__)


def _db(function):
    return database_sync_to_async(function)


class BatchPoller:
    """One worker. ``tick`` does whatever is due once; ``run`` ticks until told to stop.
    ``policy``: its pace, the Message Batches' size limits and its heartbeat's place."""

    def __init__(self, policy: PollerPolicy, *, results_chunk: int = 200) -> None:
        self.policy = policy
        self.results_chunk = results_chunk

    async def tick(self) -> None:
        # /readyz: a poller is at work (also `poll_batches --once`)
        await heartbeat.beat(self.policy.heartbeat)
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
                await asyncio.wait_for(stop.wait(), self.policy.idle_seconds)

    # -- submitting

    async def submit_jobs(self) -> None:
        for job_id in await _db(claim_jobs_to_submit)():
            await self._submit(job_id)

    async def _submit(self, job_id: int) -> None:
        while (unsent := await _db(unsent_batch)(job_id)) is not None:
            if not await self._resend(job_id, unsent):
                return
        while (work := await _db(next_batch)(job_id, self.policy)) is not None:
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
        await _db(record_sent)(batch_id, state, self.policy)
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
            await _db(record_sent)(unsent.batch_id, lookup.found, self.policy)
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
        due = await _db(claim_due)(
            [MessageBatchStatus.IN_PROGRESS, MessageBatchStatus.CANCELING], self.policy
        )
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
        ended = await _db(claim_due)([MessageBatchStatus.ENDED], self.policy, lease=WORK_LEASE)
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
