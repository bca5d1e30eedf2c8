"""A reply's writes after it started: the timed checkpoint (its text so far, and the usage
known so far), and the one final write (text, status, the record and cost of every call that
reached Claude, content checks), in one transaction; the last resort when that write fails."""

import logging
from typing import Any

from django.db import transaction

from chatapp.billing import accounting
from chatapp.models import (
    CallPurpose,
    Message,
    MessageStatus,
)
from chatapp.replies import (
    checkpoints,
    compaction,
    registry,
)
from chatapp.replies.generation import Call, ReplyGeneration
from chatapp.safety import flags
from chatapp.streaming.relay import RelayResult, unexpected_failure

logger = logging.getLogger(__name__)


def checkpoint(reply_id: int, text: str, usage: dict[str, Any] | None) -> None:
    """The text so far and, in the same write, the usage known so far (what a crash would
    otherwise lose, chatapp/replies/checkpoints.py)."""
    checkpoints.save_checkpoint(reply_id, text, usage)


def usage_so_far(job: registry.ReplyJob) -> dict[str, Any] | None:
    """Read on the event loop when a checkpoint is taken (the generation is not thread-safe)."""
    if job.generation is None:
        return None
    calls = [(call.usage, call.request_id) for call in job.generation.calls_so_far()]
    return checkpoints.snapshot(calls, continuing=job.continuing)


def _outcome(result: RelayResult) -> tuple[str, str, str]:
    """(status, error code, error message) for how the stream ended."""
    if result.error is not None:
        # A stream that broke and could not be recovered keeps its text and can be continued;
        # a request Claude refused (4xx) or never answered is an error.
        broke = result.error.retryable and result.started is not None
        status = MessageStatus.INTERRUPTED if broke else MessageStatus.ERROR
        return status, result.error.code, result.error.message
    if result.cancelled:
        return MessageStatus.CANCELLED, "", ""
    if result.stop_reason == "refusal":
        explanation = (result.stop_details or {}).get("explanation") or ""
        return (
            MessageStatus.ERROR,
            "refusal",
            f"Claude declined to answer this request. {explanation}".strip(),
        )
    return MessageStatus.COMPLETE, "", ""


def _calls(job: registry.ReplyJob, result: RelayResult) -> list[Call]:
    """Every call of this reply that reached Claude (attempts and tool rounds)."""
    if job.generation is not None:
        return job.generation.calls
    return [Call(result.usage, result.request_id)] if result.started is not None else []


def _record(job: registry.ReplyJob, result: RelayResult, message_id: int | None) -> list:
    return [
        accounting.record_call(
            user_id=job.user_id,
            purpose=CallPurpose.REPLY,
            model_id=job.model,
            usage=call.usage,
            request_id=call.request_id,
            conversation_id=job.conversation_id if message_id else None,
            message_id=message_id,
            group_ids=job.budget.group_ids if job.budget is not None else None,
        )
        for call in _calls(job, result)
    ]


def _keep_record(reply: Message, generation: ReplyGeneration | None) -> None:
    if generation is not None:
        reply.attempts = [*reply.attempts, *generation.attempts]
        reply.notes = [*reply.notes, *generation.notes]
        if generation.tool_ms:
            reply.options = {**reply.options, "tool_ms": {**reply.options.get("tool_ms", {}),
                                                          **generation.tool_ms}}


@transaction.atomic
def finish(
    job: registry.ReplyJob, result: RelayResult, status_override: str | None
) -> Message | None:
    """The one final write. Returns None if the conversation was deleted meanwhile."""
    if job.budget is not None:  # settle: the records below add the actual cost instead
        job.budget.release_all()
    reply = Message.objects.select_for_update().filter(pk=job.message_id).first()
    if reply is None:
        if result.started is not None:  # deleted mid-reply: the spend still counts
            _record(job, result, None)
        return None
    status, error_code, error_message = _outcome(result)
    reply.status = status_override or status
    reply.options = checkpoints.without_snapshot(reply.options)  # the calls are billed below
    if reply.status == MessageStatus.INTERRUPTED and not error_code:
        error_code = "interrupted"
        error_message = "The server stopped while this reply was being written."
    reply.error_code, reply.error_message = error_code, error_message
    content = job.generation.final_content() if job.generation is not None else result.content
    reply.content = flags.review_reply(reply, content, job.policy.content)
    reply.stop_reason = result.stop_reason
    if result.stop_details:  # a refusal's category and explanation (either may be null)
        reply.options = {**reply.options, "stop_details": result.stop_details}
    reply.request_id = result.request_id
    if result.started is not None:  # the first call: its id and why its cache missed
        reply.upstream_id = result.started.message_id
        reply.cache_miss_reason = result.started.cache_miss_reason
    reply.ttft_ms, reply.duration_ms = result.ttft_ms, result.duration_ms
    _keep_record(reply, job.generation)
    calls = _calls(job, result)
    if calls:  # only calls that reached Claude cost anything
        checkpoints.bill_reply(reply, _record(job, result, reply.pk),
                               [call.usage for call in calls], adding=job.continuing)
    reply.token_count = compaction.reply_token_count(reply.content, reply.output_tokens)
    reply.save()
    if job.guard is not None:  # questions counted near the limit: kept for later replies
        compaction.save_counts(job.guard.counts)
    return reply


def fail_plainly(job: registry.ReplyJob) -> Message | None:
    """The last resort when the final write failed (and was rolled back): an error, with the
    text and usage of the last checkpoint, billed as an estimate."""
    if job.budget is not None:
        job.budget.release_all()
    failure = unexpected_failure()
    checkpoints.end_orphan(job.message_id, status=MessageStatus.ERROR,
                           error_code=failure.code, error_message=failure.message)
    return Message.objects.filter(pk=job.message_id).first()
