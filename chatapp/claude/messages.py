"""Calls to the Messages API, translated into our own types.

``stream_reply`` yields ``StreamStarted``, then ``TextDelta``s, then one ``StreamFinished``;
any failure, before or during the stream, is raised as ``UpstreamError`` carrying whatever
the stream had produced so far. Closing the generator early closes the HTTP response, so
the upstream stops generating (and billing) at once.
"""

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from chatapp.claude import errors
from chatapp.claude.client import RetryListener, get_client, retry_listener
from chatapp.claude.types import (
    Completion,
    StreamEvent,
    StreamFinished,
    StreamStarted,
    TextDelta,
    ThinkingDelta,
    ToolUseStarted,
    Usage,
)


def usage_from_sdk(sdk_usage: Any) -> Usage:
    """Our ``Usage`` from the SDK's, splitting cache writes by TTL."""
    if sdk_usage is None:
        return Usage()
    written = sdk_usage.cache_creation_input_tokens or 0
    by_ttl = getattr(sdk_usage, "cache_creation", None)
    write_1h = (by_ttl.ephemeral_1h_input_tokens or 0) if by_ttl else 0
    write_5m = (by_ttl.ephemeral_5m_input_tokens or 0) if by_ttl else written
    details = getattr(sdk_usage, "output_tokens_details", None)
    server_tools = getattr(sdk_usage, "server_tool_use", None)
    return Usage(
        input_tokens=sdk_usage.input_tokens or 0,
        output_tokens=sdk_usage.output_tokens or 0,
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        cache_read_tokens=sdk_usage.cache_read_input_tokens or 0,
        thinking_tokens=(getattr(details, "thinking_tokens", 0) or 0) if details else 0,
        web_search_requests=(
            (getattr(server_tools, "web_search_requests", 0) or 0) if server_tools else 0
        ),
    )


def cache_miss_reason(message: Any) -> dict[str, Any] | None:
    """``diagnostics.cache_miss_reason`` of a message, as a plain dict (None if absent)."""
    diagnostics = getattr(message, "diagnostics", None)
    reason = getattr(diagnostics, "cache_miss_reason", None) if diagnostics else None
    return reason.to_dict() if reason is not None else None


def _blocks(message: Any) -> list[dict[str, Any]]:
    return [block.to_dict() for block in message.content] if message is not None else []


def _event(event: Any) -> StreamEvent | None:
    """Our event for an SDK stream event (None for those the app does not show live)."""
    if event.type == "content_block_delta":
        if event.delta.type == "text_delta":
            return TextDelta(event.delta.text)
        if event.delta.type == "thinking_delta":
            return ThinkingDelta(event.delta.thinking)
    elif event.type == "content_block_start" and event.content_block.type == "tool_use":
        return ToolUseStarted(event.content_block.id, event.content_block.name)
    return None


async def stream_reply(
    request: dict[str, Any], on_retry: RetryListener | None = None
) -> AsyncIterator[StreamEvent]:
    """Stream one reply for ``request`` (keyword arguments of ``messages.create``).

    ``on_retry(seconds, status)`` is told each time the SDK waits to retry a request that
    failed before its stream started.
    """
    snapshot = None
    stream = None
    started = False
    listening = retry_listener.set(on_retry)
    try:
        async with get_client().messages.stream(**request) as stream:
            retry_listener.reset(listening)
            listening = None
            async for event in stream:
                if event.type == "message_start":
                    snapshot = stream.current_message_snapshot
                    started = True
                    yield StreamStarted(
                        message_id=event.message.id,
                        model=event.message.model,
                        request_id=stream.request_id or "",
                        usage=usage_from_sdk(event.message.usage),
                        cache_miss_reason=cache_miss_reason(event.message),
                    )
                elif (ours := _event(event)) is not None:
                    yield ours
            final = await stream.get_final_message()
    # Once a stream has started the SDK lets transport errors (a dropped connection, a read
    # timeout) through unwrapped.
    except (anthropic.AnthropicError, httpx2.TransportError) as exc:
        failure = errors.from_sdk(exc)
        if started and snapshot is not None:
            failure.partial_content = _blocks(snapshot)
            # The output count as of the last event the API sent: short of what was
            # produced. Marked estimated; the caller raises it by its own guess from the
            # partial content (generation.py, with chatapp.claude.token_bounds).
            partial = usage_from_sdk(snapshot.usage)
            partial.estimated = True
            failure.partial_usage = partial
        if stream is not None and not failure.request_id:
            failure.request_id = stream.request_id or ""
        raise failure from exc
    finally:
        if listening is not None:
            retry_listener.reset(listening)
    stop_details = getattr(final, "stop_details", None)
    yield StreamFinished(
        content=_blocks(final),
        stop_reason=final.stop_reason or "",
        usage=usage_from_sdk(final.usage),
        stop_details=stop_details.to_dict() if hasattr(stop_details, "to_dict") else stop_details,
    )


async def complete(request: dict[str, Any]) -> Completion:
    """One non-streamed call, for short internal jobs such as titles."""
    try:
        response = await get_client().messages.with_raw_response.create(**request)
        message = await response.parse()
    except anthropic.AnthropicError as exc:
        raise errors.from_sdk(exc) from exc
    text = "".join(block.text for block in message.content if block.type == "text")
    return Completion(
        text=text,
        model=message.model,
        stop_reason=message.stop_reason or "",
        request_id=response.headers.get("request-id", ""),
        usage=usage_from_sdk(message.usage),
    )


async def count_tokens(request: dict[str, Any]) -> int:
    """The prompt size the API would see (free; an estimate by the API's own account)."""
    params = {k: request[k] for k in ("model", "messages", "system", "tools") if k in request}
    try:
        result = await get_client().messages.count_tokens(**params)
    except anthropic.AnthropicError as exc:
        raise errors.from_sdk(exc) from exc
    return result.input_tokens


async def list_models() -> list[dict[str, Any]]:
    """Every model the API offers, as plain dicts (``id``, ``display_name``, limits…)."""
    try:
        return [model.to_dict() async for model in get_client().models.list(limit=100)]
    except anthropic.AnthropicError as exc:
        raise errors.from_sdk(exc) from exc
