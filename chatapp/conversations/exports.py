"""A conversation as Markdown or JSON (imports.py reads that JSON back as a new conversation).

The JSON (``FORMAT``, version 1) carries the conversation's settings (system prompt, model,
max output, temperature, cache TTL) and every message with its content blocks, the files
attached to it (listed, not included), its usage and cost, and ``parent_id`` and ``on_branch``
so edited and regenerated versions survive a round trip. An import keeps each message's text,
its attachment list (as a note: the files themselves are not in an export, so they do not
come, and the import's answer says so) and each reply's usage and cost as exported, so the
replies read as they did. Citations, tool calls and thinking are not trustworthy from a file.
The imported usage is what the original account paid: it is shown, never counted as the
importer's spend (no usage record is made; ``options["imported"]`` marks such a reply).
"""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.text import slugify

from chatapp.billing.money import format_usd
from chatapp.conversations import branches
from chatapp.conversations.presenters import usage_json
from chatapp.models import (
    CacheTtl,
    Conversation,
    Message,
    Role,
)

FORMAT = "chatapp.conversation"
VERSION = 1
USAGE_NAMES = ("input_tokens", "output_tokens", "cache_write_5m_tokens",
               "cache_write_1h_tokens", "cache_read_tokens")
PROMPT_NAMES = ("input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                "cache_read_tokens")
# Statuses an imported reply keeps; anything else (an error, a reply still streaming when it
# was exported) arrives as a stopped reply with the text it had.


# --- Export ----------------------------------------------------------------------------------


def _attachments_by_message(conversation: Conversation) -> dict[int, list[dict[str, Any]]]:
    listed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for attachment in conversation.attachments.exclude(message=None).order_by("id"):
        listed[attachment.message_id].append({
            "name": attachment.name,
            "kind": attachment.kind,
            "media_type": attachment.media_type,
            "size": attachment.size,
            "pages": attachment.pages,
        })
    return listed


def _message_export(
    message: Message, parent_id: int | None, attachments: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": message.pk,
        "parent_id": parent_id,
        "on_branch": not message.superseded,
        "role": message.role,
        "status": message.status,
        "model": message.model,
        "created_at": message.created_at.isoformat(),
        "text": message.text,
        "content": message.content,
        "attachments": attachments,
        "usage": usage_json(message),
        "cost_usd": format_usd(message.cost_usd),
    }


def export_json(conversation: Conversation) -> dict[str, Any]:
    messages = list(conversation.messages.order_by("id"))
    listed = _attachments_by_message(conversation)
    tree = branches.parents(conversation)
    totals = conversation.messages.aggregate(
        cost=Sum("cost_usd"), **{name: Sum(name) for name in USAGE_NAMES}
    )
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "conversation": {
            "title": conversation.title,
            "model": conversation.model,
            "system_prompt": conversation.system_prompt,
            "max_output_tokens": conversation.max_output_tokens,
            "temperature": conversation.temperature,
            "cache_ttl": conversation.cache_ttl,
            "created_at": conversation.created_at.isoformat(),
            # The project it was started in (its documents opened the first question).
            "project": ({"id": conversation.project_id, "name": conversation.project.name}
                        if conversation.project_id else None),
        },
        "usage": {name: totals[name] or 0 for name in USAGE_NAMES},
        "cost_usd": format_usd(totals["cost"]),
        "messages": [
            _message_export(m, tree.get(m.pk), listed.get(m.pk, [])) for m in messages
        ],
    }


def describe_file(item: dict[str, Any]) -> str:
    facts = [item.get("media_type") or item.get("kind") or "file"]
    if item.get("pages"):
        facts.append(f"{item['pages']} pages")
    return f"{item.get('name', 'file')} ({', '.join(facts)})"


def prompt_tokens(usage: dict[str, int]) -> int:
    """The whole prompt, as the chat page shows "in": the cache reads and writes are input
    too (a reply served from the cache has ``input_tokens`` near zero)."""
    return sum(usage.get(name) or 0 for name in PROMPT_NAMES)


def _usage_line(message: dict[str, Any]) -> str:
    usage = message["usage"]
    cost = message["cost_usd"]
    price = "unpriced" if cost is None else f"${Decimal(cost):.4f}"
    return (f"{message['model']} · {prompt_tokens(usage):,} in · "
            f"{usage['output_tokens']:,} out · {price}")


def export_markdown(conversation: Conversation) -> str:
    """The branch on screen as a readable document (every version is in the JSON)."""
    data = export_json(conversation)
    title = conversation.title or f"Conversation {conversation.pk}"
    cost = data["cost_usd"]
    lines = [f"# {title}", "", f"- Model: {conversation.model}",
             f"- Exported: {data['exported_at']}",
             f"- Cost: {'unpriced' if cost is None else f'${Decimal(cost):.4f}'}", ""]
    lines[-1:-1] = _settings_lines(conversation)
    if conversation.project_id:
        lines[-1:-1] = [f"- Project: {conversation.project.name}"]
    if conversation.system_prompt:
        lines += ["## System prompt", "", conversation.system_prompt, ""]
    for message in data["messages"]:
        if not message["on_branch"]:
            continue
        who = "You" if message["role"] == Role.USER else "Claude"
        lines += ["---", "", f"### {who} · {message['created_at'][:16].replace('T', ' ')}", ""]
        lines += [message["text"] or "_(no text)_", ""]
        # Each note a paragraph of its own: a line right above the next "---" would turn
        # into a heading (a setext heading in CommonMark) instead of a rule.
        for item in message["attachments"]:
            lines += [f"_Attached: {describe_file(item)}_", ""]
        if message["role"] == Role.ASSISTANT:
            lines += [f"_{_usage_line(message)}_", ""]
    return "\n".join(lines).rstrip() + "\n"


def _settings_lines(conversation: Conversation) -> list[str]:
    """The settings that differ from the defaults, as list items."""
    lines = []
    if conversation.max_output_tokens:
        lines.append(f"- Max output: {conversation.max_output_tokens:,} tokens")
    if conversation.temperature is not None:
        lines.append(f"- Temperature: {conversation.temperature:g}")
    if conversation.cache_ttl != CacheTtl.AUTO:
        lines.append(f"- Prompt cache: {CacheTtl(conversation.cache_ttl).label}")
    return lines


def filename(conversation: Conversation, extension: str) -> str:
    stem = slugify(conversation.title)[:60] or f"conversation-{conversation.pk}"
    return f"{stem}.{extension}"
