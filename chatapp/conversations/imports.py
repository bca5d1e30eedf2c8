"""A conversation export (JSON, docs/protocol.md) imported as a new conversation of the
importer: its messages (text, with a note of the files they had), every version, each reply's
usage and cost as the export gave them, marked imported; checked in plain words first.
"""


from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from chatapp.conversations import settings as conversation_settings
from chatapp.conversations.exports import FORMAT, USAGE_NAMES, VERSION, describe_file
from chatapp.conversations.policy import ConversationDefaults
from chatapp.models import (
    CacheTtl,
    ClaudeModel,
    Conversation,
    Message,
    MessageStatus,
    Role,
)

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_MESSAGES = 5000
MAX_IMPORT_TEXT_CHARS = 1_000_000
MAX_TITLE_CHARS = 200
MAX_IMPORT_TOKENS = 2**31 - 1  # what a token count column holds
MAX_IMPORT_COST = Decimal("1000000")  # far beyond any one reply; the cost column holds 10⁶
KEPT_STATUSES = {MessageStatus.COMPLETE, MessageStatus.CANCELLED}
NO_PARENT_ID = object()

class ImportRefused(ValueError):
    """The file cannot be imported; the message says why in plain words."""


@dataclass(frozen=True)
class ImportedMessage:
    key: Any  # the id the file gave it, for parent_id
    parent_key: Any
    role: str
    status: str
    model: str
    text: str
    attachments: tuple[str, ...]
    on_branch: bool
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: Decimal | None = None


def _text(value: Any, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ImportRefused(f"{what} must be text of at most {limit:,} characters.")
    return value


def _message_text(item: dict[str, Any]) -> str:
    if "text" in item:
        return _text(item["text"], "A message's text", MAX_IMPORT_TEXT_CHARS)
    blocks = item.get("content") if isinstance(item.get("content"), list) else []
    joined = "".join(
        block.get("text", "") for block in blocks
        if isinstance(block, dict) and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    )
    return _text(joined, "A message's text", MAX_IMPORT_TEXT_CHARS)


def _parse_message(number: int, item: Any) -> ImportedMessage:
    if not isinstance(item, dict):
        raise ImportRefused(f"Message {number} is not a JSON object.")
    role = item.get("role")
    if role not in (Role.USER, Role.ASSISTANT):
        raise ImportRefused(f"Message {number} has no role “user” or “assistant”.")
    files = item.get("attachments") or []
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise ImportRefused(f"Message {number}'s attachments must be a list of objects.")
    status = item.get("status") if item.get("status") in KEPT_STATUSES else (
        MessageStatus.CANCELLED)
    return ImportedMessage(
        key=item.get("id", f"#{number}"),
        parent_key=item.get("parent_id") if "parent_id" in item else NO_PARENT_ID,
        role=role,
        status=MessageStatus.COMPLETE if role == Role.USER else status,
        model=_text(item.get("model"), "A message's model", 100),
        text=_message_text(item),
        attachments=tuple(describe_file(f)[:300] for f in files),
        on_branch=item.get("on_branch", True) is not False,
        usage=_usage(number, item.get("usage")) if role == Role.ASSISTANT else {},
        cost_usd=_cost(number, item.get("cost_usd")) if role == Role.ASSISTANT else None,
    )


def _usage(number: int, value: Any) -> dict[str, int]:
    """A reply's token counts as exported (missing ones are zero)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImportRefused(f"Message {number}'s usage must be an object of token counts.")
    counts = {name: value.get(name, 0) for name in USAGE_NAMES}
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_IMPORT_TOKENS
               for n in counts.values()):
        raise ImportRefused(f"Message {number}'s token counts must be whole numbers from 0.")
    return counts


def _cost(number: int, value: Any) -> Decimal | None:
    """A reply's cost as exported: a decimal string, or null (unpriced)."""
    if value is None:
        return None
    try:
        cost = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        cost = None
    if cost is None or not cost.is_finite() or not 0 <= cost < MAX_IMPORT_COST:
        raise ImportRefused(f"Message {number}'s cost_usd must be a decimal string like "
                            "\"0.0123\", or null.")
    return cost.quantize(Decimal("0.00000001"))


def parse_import(
    data: Any, defaults: ConversationDefaults
) -> tuple[dict[str, str], list[ImportedMessage]]:
    """The conversation fields and messages in an export, or ImportRefused saying what is
    wrong. Nothing is saved here."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportRefused("This is not a chatapp conversation export (JSON).")
    if data.get("version") != VERSION:
        raise ImportRefused(f"Only version {VERSION} exports can be imported.")
    head = data.get("conversation")
    messages = data.get("messages")
    if not isinstance(head, dict) or not isinstance(messages, list):
        raise ImportRefused("The export has no conversation or no list of messages.")
    if len(messages) > MAX_IMPORT_MESSAGES:
        raise ImportRefused(f"An import may have at most {MAX_IMPORT_MESSAGES:,} messages.")
    fields = {
        "title": _text(head.get("title"), "The title", 10_000).strip()[:MAX_TITLE_CHARS],
        "model": _text(head.get("model"), "The model", 100),
        "system_prompt": _text(
            head.get("system_prompt"), "The system prompt",
            conversation_settings.MAX_SYSTEM_PROMPT_CHARS,
        ),
        **_imported_settings(head, defaults.max_output_tokens),
        "project": _project_name(head.get("project")),
    }
    return fields, [_parse_message(n, item) for n, item in enumerate(messages, start=1)]


def _imported_settings(head: dict[str, Any], default_max: int) -> dict[str, Any]:
    """Max output, temperature and cache TTL (older exports have none: the defaults). The
    model is not known yet here, so a temperature is only range-checked: it is kept, and left
    out of requests to a model that takes none."""
    try:
        return {
            "max_output_tokens": conversation_settings.max_output_tokens(
                head.get("max_output_tokens"), None, default_max),
            "temperature": conversation_settings.temperature(head.get("temperature"), None),
            "cache_ttl": conversation_settings.cache_ttl(head.get("cache_ttl", CacheTtl.AUTO)),
        }
    except conversation_settings.SettingsError as exc:
        raise ImportRefused(f"The conversation's settings: {exc}") from None


def _content(message: ImportedMessage) -> list[dict[str, Any]]:
    """The text, and the files it came with as a paragraph of its own (one block: a page
    joins text blocks without a break, which glued the note to the question)."""
    parts = [message.text] if message.text else []
    if message.attachments:
        parts.append(f"[Attached in the original: {'; '.join(message.attachments)}]")
    text = "\n\n".join(parts)
    return [{"type": "text", "text": text}] if text else []


def _project_name(value: Any) -> str:
    """The name of the project an export was started in ("" if none): an import becomes a
    plain conversation, and says so."""
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"][:200] or "a project"
    return ""


def files_not_carried(messages: list[ImportedMessage]) -> str:
    """What the import's answer says about the files the export only lists ("" if none)."""
    count = sum(len(m.attachments) for m in messages)
    if not count:
        return ""
    files = "1 attached file was" if count == 1 else f"{count:,} attached files were"
    return (f"{files} not imported: an export lists files but does not contain them. "
            "Each message notes what it had; attach the files again to ask about them.")


def _kept_usage(item: ImportedMessage) -> dict[str, Any]:
    """A reply's usage and cost as the export gave them, marked as imported."""
    if item.role != Role.ASSISTANT:
        return {}
    return {**item.usage, "cost_usd": item.cost_usd}


def _model_or_default(model: str, default: str) -> str:
    if model and ClaudeModel.objects.filter(pk=model, is_active=True).exists():
        return model
    return default


@dataclass(frozen=True)
class Imported:
    conversation: Conversation
    notice: str  # what did not come along, in plain words ("" if everything did)


@transaction.atomic
def import_conversation(owner, data: Any, defaults: ConversationDefaults) -> Imported:
    """A new conversation of ``owner`` holding the export's messages (text, file notes and
    each reply's usage and cost); ``defaults`` for what the export does not say."""
    fields, messages = parse_import(data, defaults)
    title = fields["title"] or "Imported conversation"
    conversation = Conversation.objects.create(
        owner=owner, title=title if title.startswith("Imported") else f"{title} (imported)"
        [:MAX_TITLE_CHARS], model=_model_or_default(fields["model"], defaults.model),
        system_prompt=fields["system_prompt"], max_output_tokens=fields["max_output_tokens"],
        temperature=fields["temperature"], cache_ttl=fields["cache_ttl"],
    )
    created: dict[Any, Message] = {}
    previous: Message | None = None
    first: Message | None = None
    for item in messages:
        parent = _parent(item, created, previous)
        # A second first message is a new version of the first (chatapp/conversations/branches.py).
        edit_of = first.pk if parent is None and first is not None else None
        options: dict[str, Any] = {"edit_of": edit_of} if edit_of else {}
        if item.role == Role.ASSISTANT:
            options["imported"] = True
        message = Message.objects.create(
            options=options, **_kept_usage(item),
            conversation=conversation, role=item.role, status=item.status,
            model=item.model if item.role == Role.ASSISTANT else "",
            content=_content(item), superseded=not item.on_branch, parent=parent,
            reply_to=parent if item.role == Role.ASSISTANT and parent
            and parent.role == Role.USER else None,
            notes=["Imported"] if item.role == Role.ASSISTANT else [],
        )
        if _hashable(item.key):
            created[item.key] = message
        previous, first = message, first or message
    notices = [files_not_carried(messages)]
    if fields["project"]:
        notices.append(f"It was a conversation of the project “{fields['project']}”; it is "
                       "imported as a plain conversation, without the project's documents.")
    return Imported(conversation, " ".join(n for n in notices if n))


def _parent(
    item: ImportedMessage, created: dict[Any, Message], previous: Message | None
) -> Message | None:
    """The message this one follows: as the file says, or (a file without parent ids) the
    one before it."""
    if item.parent_key is NO_PARENT_ID:
        return previous
    return created.get(item.parent_key) if _hashable(item.parent_key) else None


def _hashable(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)
