"""Our objects as the JSON the browser sees (docs/protocol.md). No queries here."""

from typing import Any

from chatapp.accounting import format_usd
from chatapp.models import Conversation, Message


def usage_json(message: Message) -> dict[str, int]:
    return {
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "cache_write_5m_tokens": message.cache_write_5m_tokens,
        "cache_write_1h_tokens": message.cache_write_1h_tokens,
        "cache_read_tokens": message.cache_read_tokens,
    }


def error_json(message: Message) -> dict[str, str] | None:
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
        "created_at": message.created_at.isoformat(),
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
    }


def completed_frame(message: Message, seq: int) -> dict[str, Any]:
    return {
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
    }


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }
