"""Summarising older turns when a conversation outgrows the model's context window: the
cheapest model writes a summary of them (a billed side call), kept on the conversation with the
message it reaches; from the reply that made it on, the prompt starts with the summary
(``history.summary_turns``) instead of those turns."""

from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction

from chatapp.billing import prices
from chatapp.claude import thinking
from chatapp.claude.types import UpstreamError
from chatapp.models import (
    CallPurpose,
    ClaudeModel,
    Conversation,
    Message,
    Role,
)
from chatapp.replies import history, side_calls

SUMMARY_MAX_TOKENS = 1024
# What one summarised message may contribute to the summariser's prompt, and all of them.
EXCERPT_CHARS = 4000
TRANSCRIPT_CHARS = 400_000


def split(history: list[Message], keep_messages: int) -> tuple[list[Message], list[Message]]:
    """(to summarise, to keep whole): the last ``keep_messages`` and the question are always
    kept."""
    keep = max(1, keep_messages + 1)
    older, recent = history[:-keep], history[-keep:]
    while older and older[-1].role == Role.USER:  # cut between an answer and a question
        recent.insert(0, older.pop())
    return older, recent


def _excerpt(message: Message) -> str:
    text = message.text.strip() or "(no text)"
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + " […]"
    return f"{'User' if message.role == Role.USER else 'Assistant'}: {text}"


def transcript_chars(older: list[Message]) -> int:
    """The length of the transcript the summariser is given (before any cut)."""
    return len("\n\n".join(_excerpt(m) for m in older))


def transcript_cut(chars: int) -> bool:
    """Whether a transcript that long loses its start (``TRANSCRIPT_CHARS``): the user is told."""
    return chars > TRANSCRIPT_CHARS


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
def _save_summary(
    reply_id: int, through_id: int, call: side_calls.SideCall, count: int, older_chars: int = 0,
) -> bool:
    """Bill the summary call and keep the summary; False (nothing kept) when it is empty."""
    reply = Message.objects.select_for_update().select_related("conversation").get(pk=reply_id)
    conversation = reply.conversation
    side_calls.record(call, conversation_id=conversation.pk, message_id=reply.pk)
    summary = call.completion.text.strip()
    if not summary:  # an empty summary would silently lose every turn it stands in for
        return False
    Conversation.objects.filter(pk=conversation.pk).update(
        summary=summary, summary_through_id=through_id
    )
    note = f"Earlier turns ({count} messages) were summarised to fit the model's context window."
    if transcript_cut(older_chars):
        note += (" The oldest of them were too long for the summariser to read at once and are "
                 "not in the summary.")
    reply.notes = [*reply.notes, note]
    # From this reply on the prompt starts with the summary: the thinking of earlier replies
    # is bound to the turns it replaced (history.request_for leaves it out).
    reply.options = {**reply.options, history.SUMMARISED_THROUGH: through_id}
    reply.save(update_fields=["notes", "options", "updated_at"])
    return True


def _side_call(model_id: str) -> dict[str, Any]:
    """The summariser's max_tokens and thinking-off fields: on a model that thinks by default
    its thinking must not use up the room the summary needs (chatapp/claude/thinking.py)."""
    model = ClaudeModel.objects.filter(pk=model_id).first()
    if model is None:
        return {}
    return thinking.side_call_params(
        model.capabilities, text_tokens=SUMMARY_MAX_TOKENS, model_max=model.max_output_tokens
    )


async def summarise(reply: Message, older: list[Message]) -> None:
    model = await database_sync_to_async(prices.cheapest_model_id)()
    if model is None:
        raise UpstreamError("context_too_long", TOO_LONG)
    request = {
        **summary_request(model, reply.conversation.summary, older),
        **await database_sync_to_async(_side_call)(model),
    }
    # Its worst case is reserved like any call's: a summary the budget cannot cover fails the
    # reply with budget_exceeded before anything is sent.
    call = await side_calls.ask(
        reply.conversation.owner_id, CallPurpose.SUMMARY, request,
        subject="Summarising the earlier turns of this conversation",
    )
    saved = await database_sync_to_async(_save_summary)(
        reply.pk, older[-1].pk, call, len(older), transcript_chars(older)
    )
    if not saved:
        raise UpstreamError("context_too_long", NO_SUMMARY)


TOO_LONG = (
    "This conversation is too long for the model, even with earlier turns summarised: "
    "the last message and its documents alone do not fit. Start a new chat or choose a model "
    "with a larger context window."
)


NO_SUMMARY = (
    "This conversation is too long for the model, and summarising its earlier turns gave "
    "nothing back. Start a new chat or choose a model with a larger context window."
)
