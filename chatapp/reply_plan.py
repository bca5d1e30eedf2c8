"""What one reply asks Claude for: the conversation as a request (fitted to the context window),
the thinking and tools it may use, and how broken streams may be recovered.

Everything is read from the database here, before the reply's first call; the generation
(chatapp/generation.py) then runs without touching the database.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from chatapp import compaction, thinking, tools
from chatapp.generation import GenerationPlan
from chatapp.models import ClaudeModel, Message

Notify = Callable[[str], Awaitable[None]]


def _plan(reply_id: int, request: dict[str, Any], continuing: bool) -> GenerationPlan:
    reply = Message.objects.get(pk=reply_id)
    model = ClaudeModel.objects.filter(pk=reply.model).first()
    capabilities = model.capabilities if model else {}
    request = {
        **request,
        **thinking.request_params(
            capabilities,
            reply.options.get("thinking"),
            request["max_tokens"],
            model.max_output_tokens if model else request["max_tokens"],
        ),
        **tools.request_params(),
    }
    return GenerationPlan(
        request=request,
        accepts_prefill=bool(capabilities.get("prefill")),
        content=list(reply.content) if continuing else [],
        max_recoveries=settings.CHATAPP_STREAM_RECOVERIES,
        max_rounds=settings.CHATAPP_TOOL_ROUNDS,
        run_tool=tools.runner(reply.conversation_id),
    )


async def plan_for(
    reply_id: int,
    *,
    continuing: bool,
    request_for: Callable[[int], dict[str, Any]],
    notify: Notify,
) -> GenerationPlan:
    """The plan of a reply; ``UpstreamError`` when the conversation cannot be made to fit."""
    request = await database_sync_to_async(request_for)(reply_id)
    request = await compaction.fit(reply_id, request, request_for=request_for, notify=notify)
    return await database_sync_to_async(_plan)(reply_id, request, continuing)
