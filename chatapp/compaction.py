"""Long conversations: know the prompt's size before each call, and summarise older turns
before the conversation outgrows the model's context window.

Each message keeps the tokens it adds to a prompt (``Message.token_count``): a question is
counted once with ``count_tokens`` when it is first sent, a reply is sized from its own usage
when it ends. The prompt's size is their sum plus the system prompt, so nothing is re-counted
turn after turn. When that size would leave less than ``max_tokens`` of the context window,
the older turns are summarised by the cheapest catalog model (a priced ``UsageRecord`` with
purpose ``summary``); the summary then stands in for them. The last turns and every
document or image of the summarised turns are always sent whole. The reply carries a note.
"""

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction

from chatapp import accounting
from chatapp.claude import messages as claude_messages
from chatapp.claude.prompt import Turn
from chatapp.claude.types import Completion, UpstreamError
from chatapp.models import CallPurpose, ClaudeModel, Conversation, Message, MessageStatus, Role

logger = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[None]]
RequestFor = Callable[[int], dict[str, Any]]

# Room for what is estimated rather than counted (tool definitions, role markers).
SAFETY_TOKENS = 2048
SUMMARY_MAX_TOKENS = 1024
# What one summarised message may contribute to the summariser's prompt, and all of them.
EXCERPT_CHARS = 4000
TRANSCRIPT_CHARS = 400_000
SUMMARY_HEADING = "Summary of the earlier part of this conversation (written to save space):"
_COUNTED_STATUSES = (MessageStatus.COMPLETE, MessageStatus.CANCELLED, MessageStatus.INTERRUPTED)


def summary_turns(conversation: Conversation) -> list[Turn]:
    """The turn that stands in for summarised messages: their documents and images, whole,
    then the summary. Empty when nothing was summarised."""
    if not conversation.summary or conversation.summary_through_id is None:
        return []
    kept: list[dict[str, Any]] = []
    summarised = conversation.messages.filter(
        role=Role.USER, pk__lte=conversation.summary_through_id, superseded=False
    ).only("content")
    for message in summarised:
        kept += [block for block in message.content if block.get("type") != "text"]
    text = {"type": "text", "text": f"{SUMMARY_HEADING}\n\n{conversation.summary}"}
    return [Turn(Role.USER, [*kept, text])]


def reply_token_count(content: list[dict[str, Any]], output_tokens: int) -> int:
    """What a finished reply adds to later prompts: what it wrote plus its tool results."""
    results = sum(
        len(str(block.get("content", "")))
        for block in content
        if block.get("type") == "tool_result"
    )
    return output_tokens + math.ceil(results / 3)


def _estimate(text: str) -> int:
    """Tokens of text we do not count: generous (3 characters a token, like newer models)."""
    return math.ceil(len(text) / 3)


# --- Sizing (sync: run through database_sync_to_async) -------------------------------------


def _history(reply: Message):
    conversation = reply.conversation
    history = conversation.messages.filter(pk__lt=reply.pk, superseded=False)
    if conversation.summary_through_id:
        history = history.filter(pk__gt=conversation.summary_through_id)
    return [m for m in history if m.role == Role.USER or m.status in _COUNTED_STATUSES]


def _sizing(reply_id: int) -> tuple[Message, list[Message], int]:
    reply = Message.objects.select_related("conversation").get(pk=reply_id)
    model = ClaudeModel.objects.filter(pk=reply.model).first()
    window = model.context_window if model else 200_000
    return reply, _history(reply), window


def _known_size(reply: Message, history: list[Message]) -> int:
    conversation = reply.conversation
    fixed = _estimate(conversation.system_prompt) + _estimate(conversation.summary)
    return fixed + SAFETY_TOKENS + sum(m.token_count or 0 for m in history)


def _save_counts(counts: dict[int, int]) -> None:
    for message_id, tokens in counts.items():
        Message.objects.filter(pk=message_id).update(token_count=tokens)


async def _count_missing(reply: Message, history: list[Message], request: dict[str, Any]) -> None:
    """Count the messages that have no count yet (normally just the new question)."""
    counts: dict[int, int] = {}
    for message in history:
        if message.token_count is not None:
            continue
        if message.role == Role.USER and message is history[-1]:
            content = request["messages"][-1]["content"]  # as sent: attachments resolved
        else:
            content = message.content
        counts[message.pk] = await _count_one(reply.model, message.role, content)
        message.token_count = counts[message.pk]
    if counts:
        await database_sync_to_async(_save_counts)(counts)


async def _count_one(model: str, role: str, content: list[dict[str, Any]]) -> int:
    if role != Role.USER:
        text = "".join(str(block.get("text", "")) for block in content)
        return _estimate(text)
    try:
        return await claude_messages.count_tokens(
            {"model": model, "messages": [{"role": "user", "content": content}]}
        )
    except UpstreamError as exc:  # counting is free but can fail: estimate instead
        logger.warning("count_tokens failed (%s); estimating", exc)
        return _estimate(str(content))


# --- Summarising ---------------------------------------------------------------------------


def _split(history: list[Message]) -> tuple[list[Message], list[Message]]:
    """(to summarise, to keep whole): the last messages and the question are always kept."""
    keep = max(1, settings.CHATAPP_COMPACTION_KEEP_MESSAGES + 1)
    older, recent = history[:-keep], history[-keep:]
    while older and older[-1].role == Role.USER:  # cut between an answer and a question
        recent.insert(0, older.pop())
    return older, recent


def _excerpt(message: Message) -> str:
    text = message.text.strip() or "(no text)"
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + " […]"
    return f"{'User' if message.role == Role.USER else 'Assistant'}: {text}"


def summary_request(model: str, previous: str, older: list[Message]) -> dict[str, Any]:
    transcript = "\n\n".join(_excerpt(m) for m in older)[-TRANSCRIPT_CHARS:]
    if previous:
        transcript = f"Summary so far:\n{previous}\n\nLater turns:\n{transcript}"
    return {
        "model": model,
        "max_tokens": SUMMARY_MAX_TOKENS,
        "system": [{"type": "text", "text": (
            "You compress conversations. Summarise the transcript so that the conversation "
            "can go on without it: facts, decisions, open questions, names and numbers. "
            "Plain prose, at most 400 words.")}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": transcript}]}],
    }


@transaction.atomic
def _save_summary(reply_id: int, through_id: int, completion: Completion, count: int) -> None:
    reply = Message.objects.select_for_update().select_related("conversation").get(pk=reply_id)
    conversation = reply.conversation
    accounting.record_call(
        user_id=conversation.owner_id,
        purpose=CallPurpose.SUMMARY,
        model_id=completion.model,
        usage=completion.usage,
        request_id=completion.request_id,
        conversation_id=conversation.pk,
        message_id=reply.pk,
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        summary=completion.text.strip(), summary_through_id=through_id
    )
    note = f"Earlier turns ({count} messages) were summarised to fit the model's context window."
    reply.notes = [*reply.notes, note]
    reply.save(update_fields=["notes", "updated_at"])


async def _summarise(reply: Message, older: list[Message]) -> None:
    model = await database_sync_to_async(accounting.cheapest_model_id)()
    if model is None:
        raise UpstreamError("context_too_long", _TOO_LONG)
    request = summary_request(model, reply.conversation.summary, older)
    completion = await claude_messages.complete(request)
    await database_sync_to_async(_save_summary)(reply.pk, older[-1].pk, completion, len(older))


_TOO_LONG = (
    "This conversation is too long for the model, even with earlier turns summarised: "
    "the last message and its documents alone do not fit. Start a new chat or choose a model "
    "with a larger context window."
)


async def fit(
    reply_id: int, request: dict[str, Any], *, request_for: RequestFor, notify: Notify
) -> dict[str, Any]:
    """``request``, or a smaller one after summarising older turns; ``UpstreamError``
    (``context_too_long``) when even that cannot fit."""
    reply, history, window = await database_sync_to_async(_sizing)(reply_id)
    if not history:
        return request
    await _count_missing(reply, history, request)
    budget = window - request["max_tokens"]
    if _known_size(reply, history) <= budget:
        return request
    older, _recent = _split(history)
    if older:
        await notify("Summarising earlier turns to fit the model's context window…")
        await _summarise(reply, older)
        request = await database_sync_to_async(request_for)(reply_id)
    exact = await claude_messages.count_tokens(request)
    if exact > budget:
        raise UpstreamError("context_too_long", _TOO_LONG)
    return request
