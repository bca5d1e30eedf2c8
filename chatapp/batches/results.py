"""Results of ended batches recorded, the database side (sync; the poller calls it off the
loop): each answer on its item, with its usage billed, only on an item still processing and
in a transaction that locks it, so results read twice are recorded once; the budget held for
finished documents given back.
"""

from django.db import transaction
from django.utils import timezone

from chatapp.batches import jobs as batch_jobs
from chatapp.batches.submission import error_items
from chatapp.billing import accounting
from chatapp.claude import batches as claude_batches
from chatapp.models import BatchItem, BatchItemStatus, BatchJob, CallPurpose, MessageBatch

_OUTCOME_STATUS = {
    "succeeded": BatchItemStatus.SUCCEEDED,
    "errored": BatchItemStatus.ERRORED,
    "canceled": BatchItemStatus.CANCELLED,
    "expired": BatchItemStatus.EXPIRED,
}



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
        error_items(batch.items.all(), "No result came back for this document.", "upstream_error")
        MessageBatch.objects.filter(pk=batch_id).update(results_recorded=True, next_poll_at=None)
        batch_jobs.settle_reservation(batch.job_id)
    batch_jobs.finish_if_done(batch.job_id)


def release(batch_id: int) -> None:
    """Reading results failed: let any poller try again right away (at the next tick)."""
    MessageBatch.objects.filter(pk=batch_id).update(next_poll_at=timezone.now())

