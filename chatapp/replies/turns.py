"""A reply's turn opened in the database, in one short transaction before anything is sent:
the question and its empty reply (a new message, an edit, a continuation), or a new version of
a reply (regenerate, a refused reply's fallback). Everything a reply can be refused for is
decided here, before anything is saved: an unknown model, a reply already streaming, a
budget used up, attachments that are not this conversation's pending ones."""

import logging
from typing import Any

from django.db import transaction
from django.http import Http404

from chatapp.attachments import prompting
from chatapp.attachments.policy import PromptPolicy
from chatapp.billing import budgets
from chatapp.claude import prompt
from chatapp.claude.prompt import user_content
from chatapp.conversations import branches
from chatapp.errors import ChatappError
from chatapp.models import (
    AUTO_MODEL,
    ClaudeModel,
    Conversation,
    Message,
    MessageStatus,
    Role,
)
from chatapp.operations import metrics
from chatapp.replies import history
from chatapp.safety import model_access

logger = logging.getLogger(__name__)


class ReplyRefused(ChatappError):
    """A request for a reply that cannot be honoured; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


def _model_or_refuse(model_id: str, user_id: int | None = None) -> ClaudeModel:
    """The active model, if the user's groups allow it (in the same read: no statement more)."""
    active = ClaudeModel.objects.filter(pk=model_id, is_active=True)
    model = (model_access.active_if_allowed(model_id, user_id) if user_id is not None
             else active.first())
    if model is None:
        refused = active.first()  # a second read only to word the refusal
        if refused is not None:
            raise ReplyRefused("model_not_allowed", model_access.not_allowed_message(refused))
        raise ReplyRefused("bad_frame", f"Unknown model {model_id!r}.")
    return model


def _refuse_if_streaming(conversation: Conversation) -> None:
    if conversation.messages.filter(status=MessageStatus.STREAMING).exists():
        raise ReplyRefused("busy", "A reply is still being written in this conversation.")


def refuse_if_over_budget(conversation: Conversation) -> None:
    """At 100% nothing new is saved or sent; each call then reserves its own worst case."""
    try:
        budgets.refuse_if_exhausted(conversation.owner_id)
    except budgets.BudgetExceeded as exc:
        metrics.budget_refused("reply")
        raise ReplyRefused(exc.code, exc.message) from None


@transaction.atomic
def open_turn(
    conversation_id: int,
    text: str,
    model_id: str | None,
    attachment_ids: tuple[int, ...] = (),
    options: dict[str, Any] | None = None,
    edit_of: int | None = None,
    *,
    prompt_policy: PromptPolicy,
) -> tuple[Message, Message, ClaudeModel]:
    """(the question, its reply, the reply's model): one transaction. ``prompt_policy``: how
    attachments join a request (a note for each the model cannot take)."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    options = options or {}
    model = _model_or_refuse(model_id or conversation.model, conversation.owner_id)
    _refuse_if_streaming(conversation)
    refuse_if_over_budget(conversation)
    try:
        pending, references = prompting.pending_references(conversation, attachment_ids)
    except Http404 as exc:  # someone else's, another conversation's, or already sent
        raise ReplyRefused("not_found", str(exc)) from None
    parent_id, kept = _edit_point(conversation, edit_of)
    # A conversation's first question opens with its project's documents (an edit of it keeps
    # them, with its other files, in ``kept``).
    shared = prompting.project_references(conversation) if parent_id is edit_of is None else []
    question = Message.objects.create(
        conversation=conversation, role=Role.USER, parent_id=parent_id,
        content=[*shared, *kept, *references, *user_content(text)],
        options={**({"edit_of": edit_of} if edit_of else {}),
                 **_instructions_changed(conversation)},
    )
    prompting.mark_sent(pending, question)
    reply = Message.objects.create(
        conversation=conversation,
        role=Role.ASSISTANT,
        status=MessageStatus.STREAMING,
        model=model.pk,
        reply_to=question,
        parent=question,
        notes=[*prompting.left_out_notes(conversation, model, prompt_policy),
               *([options["route"]["reason"]] if "route" in options else [])],
        options=options,
    )
    conversation.model = AUTO_MODEL if "route" in options else model.pk
    conversation.save(update_fields=["model", "updated_at"])
    return question, reply, model


def _instructions_changed(conversation: Conversation) -> dict[str, str]:
    """{SYSTEM_PROMPT_OPTION: the system prompt} for a new question when it is not the one the
    questions on screen were last asked under (always, for the first one); else {}."""
    recorded = history.recorded_system_prompt(conversation, newest=True)
    option = history.SYSTEM_PROMPT_OPTION
    if recorded is not None and recorded[option] == conversation.system_prompt:
        return {}
    return {history.SYSTEM_PROMPT_OPTION: conversation.system_prompt}


def _edit_point(
    conversation: Conversation, edit_of: int | None
) -> tuple[int | None, list[dict[str, Any]]]:
    """(parent, blocks kept) for a new question: it follows the branch on screen, or, as a
    new version of the question ``edit_of``, takes that one's place and keeps its files."""
    if edit_of is None:
        return branches.leaf_id(conversation), []
    old = conversation.messages.on_screen().filter(pk=edit_of, role=Role.USER).first()
    if old is None:
        raise ReplyRefused("not_found", "No such question on screen in this conversation.")
    kept = [block for block in old.content if block.get("type") != "text"]
    return branches.fork_at(conversation, old), kept


def fallback_for(model: ClaudeModel | None) -> str | None:
    """The model a request refused by ``model`` can be retried on (catalog data), if any."""
    fallback = (model.capabilities or {}).get("fallback_model") if model else None
    return fallback if isinstance(fallback, str) and fallback else None


def _fallback_model(old: Message) -> tuple[str, ClaudeModel]:
    """(the refusing model's name, its fallback): Anthropic documents retrying a refused
    request on another model (docs/protocol.md, `regenerate` with `fallback`)."""
    if old.stop_reason != "refusal":
        raise ReplyRefused("bad_frame", "Only a declined reply can be retried on a fallback.")
    refused = ClaudeModel.objects.filter(pk=old.model).first()
    fallback = fallback_for(refused)
    if fallback is None:
        raise ReplyRefused("bad_frame", f"{old.model} has no fallback model in the catalog.")
    return (refused.display_name if refused else old.model), _model_or_refuse(fallback)


@transaction.atomic
def reopen_turn(
    conversation_id: int, message_id: int, fallback: bool = False, *, prompt_policy: PromptPolicy
) -> Message:
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    old = conversation.messages.filter(pk=message_id, role=Role.ASSISTANT).first()
    if old is None:
        raise ReplyRefused("not_found", "No such reply in this conversation.")
    _refuse_if_streaming(conversation)
    refuse_if_over_budget(conversation)
    if old.superseded:
        raise ReplyRefused("bad_frame", "Only a reply on screen can be regenerated.")
    # Auto chose the old reply's model for this question: the retry keeps it.
    auto = conversation.model == AUTO_MODEL
    refused_by = ""
    if fallback:
        refused_by, model = _fallback_model(old)
    else:
        model = _model_or_refuse(
            old.model if auto else conversation.model, conversation.owner_id
        )
    options = {k: v for k, v in old.options.items() if k in ("thinking", "route")}
    notes = prompting.left_out_notes(conversation, model, prompt_policy)
    if fallback:
        options["fallback_from"] = old.model
        notes = [f"Retried on {model.display_name}: {refused_by} declined this question.",
                 *notes]
    # The old reply stays, as another version (chatapp/conversations/branches.py); the new one is
    # its sibling.
    parent_id = branches.fork_at(conversation, old)
    reply = Message.objects.create(
        conversation=conversation,
        role=Role.ASSISTANT,
        status=MessageStatus.STREAMING,
        model=model.pk,
        reply_to_id=old.reply_to_id,
        parent_id=parent_id,
        notes=notes,
        # The retry asks for what the question asked for (thinking, Auto's choice).
        options=options,
    )
    conversation.save(update_fields=["updated_at"])
    return reply


# A reply that ended here was cut short: the reader is offered Continue.
TRUNCATED = ("max_tokens", "model_context_window_exceeded")


def _continuable(reply: Message) -> bool:
    stopped = reply.status in (MessageStatus.INTERRUPTED, MessageStatus.CANCELLED)
    cut = reply.status == MessageStatus.COMPLETE and reply.stop_reason in TRUNCATED
    return stopped or cut


def _goes_on_in_place(reply: Message, model: ClaudeModel) -> bool:
    """A prefill (the same message grows) only where the model takes one and no thinking was
    asked for (a prefill after thinking blocks is refused); elsewhere a new user turn asks."""
    blocks = reply.content
    return (
        bool(model.capabilities.get("prefill"))
        and reply.options.get("thinking") in (None, "off")
        and bool(blocks) and blocks[-1].get("type") == "text"
    )


@transaction.atomic
def reopen_to_continue(conversation_id: int, message_id: int) -> tuple[Message | None, Message]:
    """(None, the reply reopened in place) or (a new question, its reply) to continue it."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    reply = conversation.messages.filter(pk=message_id, role=Role.ASSISTANT).first()
    if reply is None:
        raise ReplyRefused("not_found", "No such reply in this conversation.")
    _refuse_if_streaming(conversation)
    if branches.leaf_id(conversation) != reply.pk or not _continuable(reply):
        raise ReplyRefused(
            "bad_frame",
            "Only the latest reply, interrupted, stopped or cut short, can be continued.",
        )
    if not reply.text.strip():
        raise ReplyRefused("bad_frame", "This reply has no text to continue: retry it instead.")
    model = _model_or_refuse(reply.model, conversation.owner_id)
    if not _goes_on_in_place(reply, model):
        return _open_continuation(conversation, reply, model)
    reply.status = MessageStatus.STREAMING
    reply.error_code = reply.error_message = ""
    reply.save(update_fields=["status", "error_code", "error_message", "updated_at"])
    return None, reply


def _open_continuation(
    conversation: Conversation, reply: Message, model: ClaudeModel
) -> tuple[Message, Message]:
    """A user turn asking Claude to go on, and a reply to it on the same model and settings.
    The question is stored like any other, so every later request sends exactly what this one
    sent (no prefill, which current models reject)."""
    refuse_if_over_budget(conversation)
    question = Message.objects.create(
        conversation=conversation, role=Role.USER, parent=reply,
        content=prompt.continuation_content(reply.stop_reason),
        options={"continues": reply.pk, **_instructions_changed(conversation)},
    )
    follow_up = Message.objects.create(
        conversation=conversation, role=Role.ASSISTANT, status=MessageStatus.STREAMING,
        model=model.pk, reply_to=question, parent=question,
        options={k: v for k, v in reply.options.items() if k in ("thinking", "route")},
    )
    conversation.save(update_fields=["updated_at"])
    return question, follow_up
