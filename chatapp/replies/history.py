"""What a reply asks Claude: the request built from the branch on screen, append-only.

The one read of a reply's history (``history_before``, the messages on screen before it,
oldest first, after any summary of earlier turns), the turns a summary stands in for, the
system prompt the conversation started with, and ``request_for``: the request itself, with
the conversation's files (attachments/prompting.py) and cache settings (caching.py).
"""

import logging
from typing import Any

from django.db.models import QuerySet

from chatapp.attachments import prompting
from chatapp.attachments.policy import PromptPolicy
from chatapp.claude import prompt
from chatapp.claude.prompt import Turn, build_request
from chatapp.conversations import settings as conversation_settings
from chatapp.models import (
    ClaudeModel,
    Conversation,
    FlagAction,
    Message,
    MessageStatus,
    Role,
)
from chatapp.replies import caching

logger = logging.getLogger(__name__)


# A question's options record the system prompt it was asked under when it differs from the
# one before (the first question always records it): the prompt's top-level ``system`` stays
# the first one, and each change is sent as a system message after its question.
SYSTEM_PROMPT_OPTION = "system_prompt"


SUMMARY_HEADING = "Summary of the earlier part of this conversation (written to save space):"
# The option on the reply that made the conversation's current summary (its value: the last
# message summarised): replies before it are sent without their thinking blocks.
SUMMARISED_THROUGH = "summarised_through"
_HISTORY_STATUSES = (MessageStatus.COMPLETE, MessageStatus.CANCELLED, MessageStatus.INTERRUPTED)


# What sizing and summarising read of each earlier message, and what the reply's request
# reads (request_for): read once for both (a message has several more JSON fields,
# and every reply reads the whole history).
HISTORY_FIELDS = ("conversation", "role", "status", "content", "token_count", "options",
                  "stop_reason", "error_code", "flag_summary")


def history_before(conversation: Conversation, reply_id: int) -> QuerySet[Message]:
    """The one read of a reply's history, for its sizing and its request: the messages on
    screen before it, after any that were summarised (their stand-in is ``summary_turns``),
    oldest first, with ``HISTORY_FIELDS``. ``estimates`` reads the branch differently (the
    whole branch up to now, summarised or not, for the next question: see its
    ``_history``); both start from ``Message.objects.on_screen()``."""
    # "conversation" is among the fields: a related manager sets each row's conversation,
    # and a deferred conversation_id would cost a query per message.
    return conversation.messages.sent_before(reply_id, conversation.summary_through_id).only(
        *HISTORY_FIELDS
    )


def summary_turns(conversation: Conversation) -> list[Turn]:
    """The turn that stands in for summarised messages: their documents and images, whole,
    then the summary. Empty when nothing was summarised."""
    if not conversation.summary or conversation.summary_through_id is None:
        return []
    kept: list[dict[str, Any]] = []
    instructions = None  # the system prompt the last summarised question recorded, if any
    summarised = conversation.messages.on_screen().filter(
        role=Role.USER, pk__lte=conversation.summary_through_id
    ).only("conversation", "content", "options")  # not deferred: see history_before
    for message in summarised:
        kept += [block for block in message.content if block.get("type") != "text"]
        instructions = message.options.get(SYSTEM_PROMPT_OPTION, instructions)
    text = {"type": "text", "text": f"{SUMMARY_HEADING}\n\n{conversation.summary}"}
    return [Turn(Role.USER, [*kept, text], instructions=instructions)]


def _outcome_of(message: Message) -> str:
    """How a stored reply takes part in later requests (claude/prompt.py ``kept_turns``)."""
    if message.stop_reason == "refusal" or message.error_code == "refusal":
        return prompt.REFUSED
    return prompt.ANSWERED if message.status in _HISTORY_STATUSES else prompt.FAILED


def _thinking_epoch(conversation: Conversation) -> int | None:
    """The reply that made the conversation's current summary: the replies before it were
    written with the turns it stands in for, so their thinking blocks are bound to a prefix
    no request sends any more (chatapp/replies/compaction.py)."""
    if conversation.summary_through_id is None:
        return None
    return (
        conversation.messages.filter(
            role=Role.ASSISTANT, options__summarised_through=conversation.summary_through_id
        )
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _redacted(message: Message) -> bool:
    """Its stored text differs from what Claude wrote (chatapp/safety/flags.py): a thinking block
    after the redacted text is bound to the words as written, so the reply's thinking stays
    out of later requests."""
    return any(entry.get("action") == FlagAction.REDACT for entry in message.flag_summary)


def _turn(message: Message, epoch: int | None) -> Turn:
    if message.role == Role.USER:
        return Turn(message.role, message.content,
                    instructions=message.options.get(SYSTEM_PROMPT_OPTION))
    current = epoch is None or message.pk >= epoch
    return Turn(message.role, message.content, outcome=_outcome_of(message),
                keep_thinking=current and not _redacted(message))


def starting_system_prompt(conversation: Conversation) -> str:
    """The system prompt the conversation's first question was asked under (the top-level
    ``system`` of every request), or its current one when none was recorded."""
    recorded = recorded_system_prompt(conversation, newest=False)
    return recorded[SYSTEM_PROMPT_OPTION] if recorded else conversation.system_prompt


def _starting_system_prompt_of(conversation: Conversation, history: list[Message]) -> str:
    """``starting_system_prompt`` from the messages on screen before a reply, oldest first,
    when no summary stands in for any of them (the first question asked is among them);
    else read."""
    if conversation.summary_through_id is not None:
        return starting_system_prompt(conversation)
    for message in history:
        if message.role == Role.USER and SYSTEM_PROMPT_OPTION in message.options:
            return message.options[SYSTEM_PROMPT_OPTION]
    return conversation.system_prompt


def recorded_system_prompt(conversation: Conversation, *, newest: bool) -> dict | None:
    """The options of the newest (or first) question on screen that recorded the system
    prompt it was asked under; None when none did."""
    return (
        conversation.messages.on_screen().filter(
            role=Role.USER, options__has_key=SYSTEM_PROMPT_OPTION
        )
        .order_by("-pk" if newest else "pk")
        .values_list("options", flat=True)
        .first()
    )


def request_for(
    reply_id: int,
    read: tuple[Message, ClaudeModel | None, list[Message] | None] | None = None,
    *,
    default_max_tokens: int,
    prompt_policy: PromptPolicy,
    attachments_sent: bool = True,
) -> dict[str, Any]:
    """The reply's request (``default_max_tokens``: CHATAPP_MAX_OUTPUT_TOKENS, for a
    conversation that does not say; ``prompt_policy``: how sent attachments join it);
    ``read``: the reply (with its conversation), its model and the messages before it when
    the caller has just read them (the plan's sizing, with ``HISTORY_FIELDS``), else they are
    read here. ``attachments_sent`` False: the caller has just found that the conversation has
    sent no attachment (none are read)."""
    history = None
    if read is None:
        reply = Message.objects.select_related("conversation").get(pk=reply_id)
        model = ClaudeModel.objects.filter(pk=reply.model).first()
    else:
        reply, model, history = read
    conversation = reply.conversation
    if history is None:
        history = list(history_before(conversation, reply_id))
        start = starting_system_prompt(conversation)
    else:
        start = _starting_system_prompt_of(conversation, history)
    epoch = _thinking_epoch(conversation)
    turns = summary_turns(conversation) + [_turn(m, epoch) for m in history]
    return build_request(
        model=reply.model,
        turns=turns,
        max_tokens=conversation_settings.reply_max_tokens(conversation, model, default_max_tokens),
        system_prompt=start,
        attachments=(prompting.for_prompt(conversation, reply_id, model, prompt_policy)
                     if model and attachments_sent else {}),
        cache_ttl=caching.ttl_for(conversation, reply_id, reply.model),
        first_ttl=caching.project_ttl_for(conversation, reply_id, reply.model),
        previous_message_id=caching.previous_upstream_id(conversation, reply_id),
        system_messages=bool(model and model.capabilities.get("system_messages")),
    )
