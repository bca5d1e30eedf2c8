"""Our objects as the JSON the browser sees (docs/protocol.md). No queries here."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from chatapp.attachments.image_sizes import tokens_by_tier
from chatapp.billing.money import format_usd
from chatapp.claude import thinking
from chatapp.conversations import settings as conversation_settings
from chatapp.models import (
    Attachment,
    AttachmentKind,
    BatchItem,
    BatchJob,
    ClaudeModel,
    Conversation,
    Message,
)
from chatapp.safety.content_checks import describe as describe_flags


def usage_json(message: Message | BatchItem) -> dict[str, int]:
    return {
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "cache_write_5m_tokens": message.cache_write_5m_tokens,
        "cache_write_1h_tokens": message.cache_write_1h_tokens,
        "cache_read_tokens": message.cache_read_tokens,
    }


def error_json(message: Message | BatchItem) -> dict[str, str] | None:
    if not message.error_code:
        return None
    return {"code": message.error_code, "message": message.error_message}


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "role": message.role,
        "status": message.status,
        "model": message.model,
        "text": message.text,
        "content": message.content,
        "stop_reason": message.stop_reason,
        "usage": usage_json(message),
        "cost_usd": format_usd(message.cost_usd),
        "error": error_json(message),
        "reply_to": message.reply_to_id,
        "parent_id": message.parent_id,
        "created_at": message.created_at.isoformat(),
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "flags": describe_flags(message.flag_summary),
        "cache_saved_usd": cache_saved(message),
        **reply_extras(message),
    }


def reply_extras(message: Message) -> dict[str, Any]:
    """Notes (restarted, summarised, routed…), the options asked for, thinking tokens."""
    return {
        "notes": message.notes,
        "options": message.options,
        "thinking_tokens": (message.cost_breakdown or {}).get("thinking_tokens", 0),
    }


def cache_saved(message: Message) -> str | None:
    """What prompt caching saved on this reply (negative: the cache writes cost extra)."""
    saved = (message.cost_breakdown or {}).get("cache_saved")
    return format_usd(Decimal(saved)) if saved is not None else None


def completed_frame(message: Message, seq: int) -> dict[str, Any]:
    frame = {
        "type": "message_completed",
        "message_id": message.pk,
        "status": message.status,
        "stop_reason": message.stop_reason,
        "usage": usage_json(message),
        "cost_usd": format_usd(message.cost_usd),
        "model": message.model,
        "error": error_json(message),
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "seq": seq,
        "flags": describe_flags(message.flag_summary),
        "cache_saved_usd": cache_saved(message),
        # The blocks as stored, with the citations the stream's deltas did not carry.
        "content": message.content,
        **reply_extras(message),
    }
    # Redacted or withheld: the text the browser streamed is not what was kept; replace it.
    if any(entry.get("action") != "flag" for entry in message.flag_summary):
        frame["text"] = message.text
    return frame


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "max_output_tokens": conversation.max_output_tokens,
        "temperature": conversation.temperature,
        "cache_ttl": conversation.cache_ttl,
        "project": conversation.project_id,  # the project it was started in, or null
        "pinned": conversation.pinned_at is not None,
        "archived": conversation.archived_at is not None,
        "pinned_at": _iso_or_none(conversation.pinned_at),
        "archived_at": _iso_or_none(conversation.archived_at),
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }


def _iso_or_none(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def attachment_json(
    attachment: Attachment, costs: tuple[Decimal | None, Decimal | None] = (None, None)
) -> dict[str, Any]:
    """An attachment; ``costs`` are what the first and each later question pay for a document
    (``attachments.question_costs``) with the conversation's model."""
    base = f"/api/conversations/{attachment.conversation_id}/attachments/{attachment.pk}/"
    body: dict[str, Any] = {
        "id": attachment.pk,
        "kind": attachment.kind,
        "name": attachment.name,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "pages": attachment.pages,
        "tokens": attachment.tokens,
        "message_id": attachment.message_id,
        "created_at": attachment.created_at.isoformat(),
        "download_url": base + "file/",
        "flags": describe_flags(attachment.flag_summary),
    }
    if attachment.kind == AttachmentKind.IMAGE:
        width, height = attachment.width or 1, attachment.height or 1
        body.update(width=width, height=height, tokens_by_tier=tokens_by_tier(width, height),
                    preview_url=base + "file/?variant=prepared")
    else:
        first, later = costs
        body.update(first_question_usd=format_usd(first), later_question_usd=format_usd(later))
    return body


def batch_document_json(document: Attachment) -> dict[str, Any]:
    """A document as the Batch jobs page lists it (uploaded there, or to a conversation)."""
    return {
        "id": document.pk,
        "name": document.name,
        "media_type": document.media_type,
        "size": document.size,
        "pages": document.pages,
        "tokens": document.tokens,
        "conversation_id": document.conversation_id,
        "created_at": document.created_at.isoformat(),
    }


def batch_item_json(item: BatchItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "document_id": item.document_id,
        "document_name": item.document_name,
        "status": item.status,
        "text": item.text,
        "stop_reason": item.stop_reason,
        "usage": usage_json(item),
        "cost_usd": format_usd(item.cost_usd),
        "error": error_json(item),
    }


def batch_job_json(
    job: BatchJob, counts: dict[str, int], cost: Decimal | None
) -> dict[str, Any]:
    """A batch job without its items; ``cost`` is what its answers cost so far."""
    return {
        "id": job.pk,
        "status": job.status,
        "model": job.model,
        "prompt": job.prompt,
        "max_tokens": job.max_tokens,
        "counts": counts,
        "cost_usd": format_usd(cost),
        "created_at": job.created_at.isoformat(),
        "ended_at": job.ended_at.isoformat() if job.ended_at else None,
        "cancel_requested": job.cancel_requested_at is not None,
    }


def model_json(model: ClaudeModel, default_max: int) -> dict[str, Any]:
    """A catalog model as the chat page and ``/api/models/`` describe it (``default_max``:
    CHATAPP_MAX_OUTPUT_TOKENS)."""
    return {
        "id": model.pk,
        "display_name": model.display_name,
        "tier": model.tier,
        "context_window": model.context_window,
        "image_tier": model.image_tier,
        "thinking": thinking.choices(model.capabilities),
        # Where a reply this model declines can be retried ("Retry with …"); null: nowhere.
        "fallback_model": (model.capabilities or {}).get("fallback_model") or None,
        **conversation_settings.model_facts(model, default_max),
    }
