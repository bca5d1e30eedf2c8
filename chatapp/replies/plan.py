"""What one reply asks Claude for: the conversation as a request (fitted to the context window),
the thinking and tools it may use, and how broken streams may be recovered.

Everything is read from the database here, before the reply's first call; the generation
(chatapp/replies/generation.py) then runs without touching the database, except through the context
guard it is handed (``compaction.ContextGuard``), which may summarise older turns when a tool
round outgrows the window.
"""

from typing import Any

from channels.db import database_sync_to_async

from chatapp.claude import thinking
from chatapp.models import ClaudeModel, Message
from chatapp.replies import compaction, history, tools
from chatapp.replies.generation import GenerationPlan
from chatapp.replies.policy import ReplyPolicy


def read_request(
    reply_id: int,
    policy: ReplyPolicy,
    opened: tuple[Message, ClaudeModel | None] | None = None,
) -> tuple[dict[str, Any], compaction.Sizing]:
    """Everything the plan reads, in one call on the ORM thread: the request and its sizing
    (with the reply and its model, unless ``opened`` has them; under a burst each call waits
    its turn on that thread)."""
    sizing = compaction.read_sizing(reply_id, opened)
    # The request is built from the reply, model, history and sent attachments the sizing
    # has just read.
    request = history.request_for(reply_id, read=(sizing.reply, sizing.model, sizing.rows),
                                  default_max_tokens=policy.defaults.max_output_tokens,
                                  prompt_policy=policy.prompt,
                                  attachments_sent=bool(sizing.attachment_tokens))
    return request, sizing


def _plan(
    reply: Message,
    model: ClaudeModel | None,
    request: dict[str, Any],
    continuing: bool,
    guard: compaction.ContextGuard,
    policy: ReplyPolicy,
) -> GenerationPlan:
    capabilities = model.capabilities if model else {}
    request = {
        **request,
        **thinking.request_params(
            capabilities,
            reply.options.get("thinking"),
            request["max_tokens"],
            model.max_output_tokens if model else request["max_tokens"],
        ),
        **tools.request_params(policy),
    }
    # No temperature, whatever the conversation stored: API version 2026-10-21 takes none.
    return GenerationPlan(
        notes=[],
        request=request,
        accepts_prefill=bool(capabilities.get("prefill")),
        content=list(reply.content) if continuing else [],
        max_recoveries=policy.max_recoveries,
        max_rounds=policy.max_tool_rounds,
        run_tool=tools.runner(reply.conversation_id),
        fit_call=guard,
    )


async def plan_for(
    reply_id: int,
    *,
    continuing: bool,
    guard: compaction.ContextGuard,
    policy: ReplyPolicy,
    opened: tuple[Message, ClaudeModel | None] | None = None,
) -> GenerationPlan:
    """The plan of a reply; ``UpstreamError`` when the conversation cannot be made to fit.
    ``guard`` then checks every call of the reply again. ``opened``: the reply and its model
    as the write that opened the reply has them (``compaction.read_sizing``)."""
    request, sizing = await database_sync_to_async(read_request)(
        reply_id, policy, opened
    )
    request = await guard.fit(request, sizing)
    return _plan(sizing.reply, sizing.model, request, continuing, guard, policy)
