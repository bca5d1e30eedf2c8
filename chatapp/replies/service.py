"""Start, continue and regenerate replies: the service the consumer and views call.

A reply's turn is opened in one short transaction before the upstream is called (turns.py);
then its task (registry.py) plans the request (plan.py, from history.py), streams it through
the relay with every call's recovery and tool rounds (generation.py), checkpoints on the
relay's timer and ends in one final write (final_write.py). Stopping a reply: registry.py.
The caller (the socket) hands in the ``ReplyPolicy`` each reply runs under (policy.py).
"""

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async

from chatapp.billing import reservations
from chatapp.claude.types import UpstreamError
from chatapp.conversations import branches
from chatapp.conversations.presenters import completed_frame, message_json
from chatapp.models import (
    AUTO_MODEL,
    ClaudeModel,
    Conversation,
    Message,
    MessageStatus,
)
from chatapp.operations import metrics
from chatapp.replies import (
    compaction,
    final_write,
    liveness,
    model_router,
    orm_thread,
    registry,
    titles,
    turns,
)
from chatapp.replies import plan as reply_plan
from chatapp.replies.generation import ReplyGeneration
from chatapp.replies.policy import ProcessPolicy, ReplyPolicy
from chatapp.streaming import broadcast
from chatapp.streaming.live import get_live_store
from chatapp.streaming.relay import RelayResult, ReplyRelay, unexpected_failure

logger = logging.getLogger(__name__)


# --- Database steps (each one short; no network inside) ------------------------------------


# --- The reply task ------------------------------------------------------------------------


async def _run(job: registry.ReplyJob) -> None:
    try:
        await _generate(job)
    finally:
        registry.remove(job)


async def _generate(job: registry.ReplyJob) -> None:
    policy = job.policy
    live = get_live_store(policy.process.redis_url)

    async def publish(frame: dict[str, Any]) -> None:
        await broadcast.publish(job.conversation_id, frame)

    relay = ReplyRelay(
        job.message_id,
        publish=publish,
        checkpoint=lambda text: database_sync_to_async(final_write.checkpoint)(
            job.message_id, text, final_write.usage_so_far(job)
        ),
        live=live,
        coalesce_seconds=policy.coalesce_seconds,
        checkpoint_seconds=policy.checkpoint_seconds,
        initial_text=job.initial_text,
    )
    job.relay = relay
    if job.stop_requested:
        relay.stop()

    async def notify(text: str) -> None:
        await broadcast.publish(
            job.conversation_id, {"type": "notice", "message_id": job.message_id, "text": text}
        )

    try:
        job.guard = compaction.ContextGuard(job.message_id, notify=notify, policy=policy)
        plan = await reply_plan.plan_for(
            job.message_id,
            continuing=job.continuing,
            guard=job.guard,
            policy=policy,
            opened=job.opened,
        )
        job.opened = None
        job.budget = reservations.CallBudget(job.user_id, prompt_size=lambda: job.guard.size)

        async def before_call(request: dict[str, Any]) -> None:
            await job.budget.before_call(request)
            orm_thread.asked()  # from here this reply's ORM calls let later messages' go first

        job.generation = ReplyGeneration(plan, notify=notify, before_call=before_call)
        result = await relay.run(job.generation.events())
    except UpstreamError as exc:  # refused before anything was sent (e.g. far too long)
        relay.error = exc
        result = relay.result()
    except asyncio.CancelledError:
        # The process is shutting down: keep what was written, say so, and let it go.
        await _close(job, relay.result(), MessageStatus.INTERRUPTED)
        raise
    except Exception:  # a bug of ours must not leave the reply streaming forever
        logger.exception("reply %s failed", job.message_id)
        relay.error = unexpected_failure()
        result = relay.result()
    reply = await _close(job, result, MessageStatus.INTERRUPTED if job.shutting_down else None)
    if reply is not None and reply.status == MessageStatus.COMPLETE:
        await titles.maybe_generate(job.conversation_id)


async def _close(
    job: registry.ReplyJob, result: RelayResult, status_override: str | None
) -> Message | None:
    try:
        reply = await database_sync_to_async(final_write.finish)(job, result, status_override)
    except Exception:  # the final write failed: the reply must not stay "streaming"
        logger.exception("reply %s: the final write failed", job.message_id)
        reply = await database_sync_to_async(final_write.fail_plainly)(job)
    metrics.reply_finished(job.model, result, reply)
    process = job.policy.process
    await get_live_store(process.redis_url).clear(job.message_id)
    await liveness.forget(job.message_id, process)
    if reply is not None:
        await broadcast.publish(job.conversation_id, completed_frame(reply, result.seq))
    return reply


def _launch(
    reply: Message,
    policy: ReplyPolicy,
    *,
    continuing: bool = False,
    model: ClaudeModel | None = None,
) -> registry.ReplyJob:
    """``model``: the reply's model row as the write that opened the reply read it (with the
    reply's conversation, they are not read again)."""
    job = registry.ReplyJob(
        conversation_id=reply.conversation_id,
        message_id=reply.pk,
        user_id=reply.conversation.owner_id,
        model=reply.model,
        policy=policy,
        continuing=continuing,
        initial_text=reply.text if continuing else "",
        opened=(reply, model) if model is not None else None,
    )
    registry.add(job)
    metrics.reply_started(reply.model)
    job.task = asyncio.create_task(_run(job), name=f"reply-{reply.pk}")
    registry.ensure_background(policy.process)
    return job


async def _announce_start(
    conversation_id: int, reply: Message, process: ProcessPolicy, text: str = ""
) -> None:
    await liveness.beat({reply.pk}, process)  # before anything: no sweeper may take it for dead
    live = get_live_store(process.redis_url)
    await live.begin(reply.pk)
    if text:  # a continued reply: joining sockets get its text so far, at seq 0
        await live.reset(reply.pk, 0, text)
    await broadcast.publish(
        conversation_id,
        {
            "type": "message_started",
            "message_id": reply.pk,
            "model": reply.model,
            "reply_to": reply.reply_to_id,
        },
    )


# --- Public API ----------------------------------------------------------------------------


@database_sync_to_async
def _conversation_model(conversation_id: int) -> str:
    return Conversation.objects.filter(pk=conversation_id).values_list("model", flat=True).first()


async def start_reply(
    conversation_id: int,
    text: str,
    model_id: str | None = None,
    attachment_ids: tuple[int, ...] = (),
    *,
    policy: ReplyPolicy,
    thinking: str | None = None,
    edit_of: int | None = None,
) -> tuple[Message, Message]:
    """Save the user's message (with the composer's attachments), then start the reply.
    ``model_id`` "auto" lets the router choose; ``edit_of`` makes the message a new version
    of that earlier question (chatapp/conversations/branches.py). Returns (question, reply)."""
    options: dict[str, Any] = {"thinking": thinking} if thinking and thinking != "off" else {}
    routed = None
    if (model_id or await _conversation_model(conversation_id)) == AUTO_MODEL:
        routed = await model_router.route(
            conversation_id, text, tuple(attachment_ids), thinking, policy
        )
        model_id, options["route"] = routed.decision.model, routed.decision.as_dict()
    try:
        question, reply, model = await database_sync_to_async(turns.open_turn)(
            conversation_id, text, model_id, tuple(attachment_ids), options, edit_of,
            prompt_policy=policy.prompt,
        )
    except BaseException:
        if routed is not None:  # refused after the router asked: bill it, free its reservation
            await database_sync_to_async(model_router.record_confirmation)(routed, None)
        raise
    if edit_of is not None:
        await branches.announce(conversation_id)
    if routed is not None:
        await database_sync_to_async(model_router.record_confirmation)(routed, reply)
    await broadcast.publish(
        conversation_id, {"type": "message_created", "message": message_json(question)}
    )
    await _announce_start(conversation_id, reply, policy.process)
    _launch(reply, policy, model=model)
    return question, reply


async def continue_reply(conversation_id: int, message_id: int, *, policy: ReplyPolicy) -> Message:
    """Let an interrupted, stopped or cut-short reply go on: the same message grows (a prefill)
    where the model takes one, else a new question asks for the rest in a reply of its own."""
    question, reply = await database_sync_to_async(turns.reopen_to_continue)(
        conversation_id, message_id
    )
    if question is None:
        await _announce_start(conversation_id, reply, policy.process, reply.text)
        _launch(reply, policy, continuing=True)
        return reply
    await broadcast.publish(
        conversation_id, {"type": "message_created", "message": message_json(question)}
    )
    await _announce_start(conversation_id, reply, policy.process)
    _launch(reply, policy)
    return reply


async def regenerate(
    conversation_id: int, message_id: int, *, policy: ReplyPolicy, fallback: bool = False
) -> Message:
    """A new version of a reply on screen; the old one is kept as another branch. With
    ``fallback``, a refused reply is asked again of its model's fallback model."""
    reply = await database_sync_to_async(turns.reopen_turn)(
        conversation_id, message_id, fallback, prompt_policy=policy.prompt
    )
    await branches.announce(conversation_id)
    await _announce_start(conversation_id, reply, policy.process)
    _launch(reply, policy)
    return reply


def _streaming_messages(conversation_id: int) -> list[Message]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, status=MessageStatus.STREAMING)
    )


async def live_frames(conversation_id: int, redis_url: str) -> list[dict[str, Any]]:
    """``reply_state`` frames for the conversation's streaming replies (for a joining socket);
    ``redis_url``: where the live state is kept ("": this process)."""
    frames = []
    live = get_live_store(redis_url)
    for reply in await database_sync_to_async(_streaming_messages)(conversation_id):
        state = await live.read(reply.pk)
        seq, text = (state.seq, state.text) if state else (0, reply.text)
        frames.append(
            {
                "type": "reply_state",
                "message_id": reply.pk,
                "seq": seq,
                "text": text,
                "model": reply.model,
                "thinking": state.thinking if state else "",
                "tools": list(state.tools) if state else [],
                "notes": reply.notes,
            }
        )
    return frames


