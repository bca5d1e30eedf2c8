"""Frames to every socket watching a conversation, in any process (the channel layer)."""

from typing import Any

from channels.layers import get_channel_layer

FRAME_EVENT = "reply.frame"


def group_name(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


async def publish(conversation_id: int, frame: dict[str, Any]) -> None:
    await get_channel_layer().group_send(
        group_name(conversation_id), {"type": FRAME_EVENT, "frame": frame}
    )
