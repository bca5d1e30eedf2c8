"""A title for a new conversation, written by the cheapest model after the first exchange.

The call is priced, recorded and held against the owner's budget like any other (a user at
their limit gets no title). It is a side call: thinking off (or at its minimum where the model
cannot turn it off) and a ``max_tokens`` that leaves room for the title whatever the model
thinks (``thinking.side_call_params``). An answer with no title in it (the model may still
spend its tokens thinking) is asked once more, then left out: an empty title is never saved.
A failure leaves the title empty (the UI shows "New chat") and is only logged: it must never
disturb the conversation.
"""

import logging
import re

from channels.db import database_sync_to_async
from django.db import transaction

from chatapp.billing import prices
from chatapp.claude import thinking
from chatapp.claude.prompt import title_request
from chatapp.claude.types import UpstreamError
from chatapp.models import CallPurpose, ClaudeModel, Conversation, MessageStatus, Role
from chatapp.replies import side_calls
from chatapp.streaming import broadcast

logger = logging.getLogger(__name__)
MAX_TITLE_CHARS = 80
TITLE_TOKENS = 24  # six words, with room to spare
ATTEMPTS = 2  # an answer without a title is asked once more


def clean_title(raw: str) -> str:
    """First line, without markdown decoration or quotes, at most six words."""
    # A lone surrogate from upstream could be neither stored nor sent again: U+FFFD instead.
    raw = raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    line = next((part for part in raw.splitlines() if part.strip()), "")
    line = re.sub(r"[#*_`>\"“”]+", "", line).strip(" .:-")
    words = line.split()
    return " ".join(words[:6])[:MAX_TITLE_CHARS]


def _title_job(conversation_id: int) -> tuple[dict, int] | None:
    """The request for a title and whose budget pays for it, or None when this conversation
    needs none (it has a title, or not exactly one finished reply)."""
    # Runs after every reply: only the two columns it needs (not the summary or system prompt).
    conversation = Conversation.objects.only("title", "owner").get(pk=conversation_id)
    if conversation.title:
        return None
    finished = conversation.messages.filter(role=Role.ASSISTANT, status=MessageStatus.COMPLETE)
    replies = list(finished.select_related("reply_to")[:2])
    if len(replies) != 1 or replies[0].reply_to is None:
        return None
    model = _title_model()
    if model is None:
        return None
    reply = replies[0]
    request = title_request(model=model.pk, question=reply.reply_to.text, answer=reply.text)
    request.update(
        thinking.side_call_params(model.capabilities, TITLE_TOKENS, model.max_output_tokens)
    )
    return request, conversation.owner_id


def _title_model() -> ClaudeModel | None:
    """The cheapest active model (remembered by the process); chosen afresh if the one
    remembered was deactivated since (an admin's edit of a model forgets nothing)."""
    remembered = prices.remembered_cheapest_model_id()
    model = ClaudeModel.objects.filter(pk=remembered, is_active=True).first()
    if model is None:
        prices.forget_prices()
        model = ClaudeModel.objects.filter(pk=prices.remembered_cheapest_model_id()).first()
    return model


@transaction.atomic
def _save_title(conversation_id: int, call: side_calls.SideCall) -> str:
    Conversation.objects.get(pk=conversation_id)  # deleted meanwhile: nothing to title
    side_calls.record(call, conversation_id=conversation_id)
    title = clean_title(call.completion.text)
    # Saved only while the conversation is still untitled: a rename by its owner meanwhile
    # wins, and then nothing is announced (the page would show a title nobody kept).
    if title and Conversation.objects.filter(pk=conversation_id, title="").update(title=title):
        return title
    return ""


async def maybe_generate(conversation_id: int) -> None:
    call = None
    try:
        job = await database_sync_to_async(_title_job)(conversation_id)
        if job is None:
            return
        request, owner_id = job
        for _attempt in range(ATTEMPTS):
            call = await side_calls.ask(owner_id, CallPurpose.TITLE, request)
            title = await database_sync_to_async(_save_title)(conversation_id, call)
            completion, call = call.completion, None
            if title or clean_title(completion.text):  # saved, or another process titled it
                break
            logger.warning("an empty title for conversation %s (stop reason %s)",
                           conversation_id, completion.stop_reason)
    except (UpstreamError, Conversation.DoesNotExist) as exc:
        logger.warning("no title for conversation %s: %s", conversation_id, exc)
        await side_calls.release(call)
        return
    except Exception:  # anything else is a bug: logged, never an unretrieved task exception
        logger.exception("no title for conversation %s", conversation_id)
        await side_calls.release(call)
        return
    if title:
        await announce(conversation_id, title)


async def announce(conversation_id: int, title: str) -> None:
    """Tell every open tab of the conversation its new title."""
    await broadcast.publish(conversation_id, {"type": "conversation_updated", "title": title})
