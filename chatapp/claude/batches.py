"""The Message Batches API in our own types: build requests, submit, look, cancel, read results.

Every request of a job shares one document-free prefix, the system text and the user's
instructions, with a 1-hour cache breakpoint after it: the first request to run writes it and
the others read it. One hour rather than five minutes because a batch's requests may run far
apart (the Batches documentation recommends it). The prefix is only cached when it reaches the
model's minimum cacheable length; a short prompt is simply not cached, at no cost.
"""

import json
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import anthropic
import httpx2

from chatapp.claude import errors
from chatapp.claude.client import get_client, without_retries
from chatapp.claude.messages import usage_from_sdk
from chatapp.claude.types import UpstreamError, Usage

# Lifts max_tokens to the model's batch limit (300K on the models that have it); batches only.
LONG_OUTPUT_BETA = "output-300k-2026-03-24"
CACHE_1H = {"type": "ephemeral", "ttl": "1h"}
BATCH_SYSTEM = (
    "You are given instructions and then one document. Follow the instructions for that "
    "document alone. Answer only from the document, and say so when it does not contain "
    "what is asked."
)
# JSON punctuation around each request in the create body ({"requests":[…,…]}).
_ENVELOPE_BYTES = 2
# The API reference's limit on one create call (its guide says 100,000; the reference rules).
MAX_REQUESTS_PER_BATCH = 10_000
# How far Anthropic's clock may be behind ours when a batch we may have created is looked up.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class BatchRequest:
    custom_id: str
    params: dict[str, Any]

    def as_api(self) -> dict[str, Any]:
        return {"custom_id": self.custom_id, "params": self.params}

    @cached_property
    def size(self) -> int:
        """Bytes this request adds to a create body (ASCII-escaped JSON: never an underestimate)."""
        return len(json.dumps(self.as_api(), separators=(",", ":")).encode()) + _ENVELOPE_BYTES


@dataclass(frozen=True)
class BatchState:
    upstream_id: str
    processing_status: str  # in_progress, canceling or ended
    counts: dict[str, int]
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


@dataclass
class BatchResult:
    """One line of a batch's results."""

    custom_id: str
    outcome: str  # succeeded, errored, canceled or expired
    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = ""
    usage: Usage | None = None
    message_id: str = ""
    model: str = ""
    error: UpstreamError | None = None


def item_request(
    *, model: str, max_tokens: int, prompt: str, document: dict[str, Any],
    thinking: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Messages API parameters for one document of a job. ``thinking``: the model's
    thinking-off fields (the 5.x models think unless told not to, and thinking would spend the
    answer's ``max_tokens``)."""
    return {
        "model": model,
        "max_tokens": max_tokens,
        **(thinking or {}),
        "system": [{"type": "text", "text": BATCH_SYSTEM}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt, "cache_control": dict(CACHE_1H)},
                    document,
                ],
            }
        ],
    }


def split(
    requests: Iterable[BatchRequest], *, max_count: int, max_bytes: int
) -> Iterator[list[BatchRequest]]:
    """Consecutive groups within the per-batch limits, taken lazily; never more requests in
    one group than one create call may carry, whatever ``max_count`` says.

    A request too large for any batch goes alone, so the API's refusal names it and it only.
    """
    max_count = min(max_count, MAX_REQUESTS_PER_BATCH)
    current: list[BatchRequest] = []
    current_bytes = 0
    for request in requests:
        size = request.size
        if current and (len(current) >= max_count or current_bytes + size > max_bytes):
            yield current
            current, current_bytes = [], 0
        current.append(request)
        current_bytes += size
    if current:
        yield current


def _state(batch: Any) -> BatchState:
    return BatchState(
        upstream_id=batch.id,
        processing_status=batch.processing_status,
        counts=batch.request_counts.to_dict(),
        created_at=batch.created_at,
        expires_at=batch.expires_at,
        ended_at=batch.ended_at,
    )


async def submit(requests: Sequence[BatchRequest], *, long_output: bool) -> BatchState:
    """Create one Message Batch (with the long-output beta when asked), in ONE attempt.

    The SDK would retry a timed-out or 5xx create by itself, and a create carries no
    idempotency key: the first attempt may have made a batch, and the retry a second. So this
    call is never retried blindly; before creating again, ``find_created`` looks it up.
    """
    if not 1 <= len(requests) <= MAX_REQUESTS_PER_BATCH:
        raise UpstreamError(
            "invalid_request",
            f"A Message Batch holds 1 to {MAX_REQUESTS_PER_BATCH:,} requests, not "
            f"{len(requests):,}.",
        )
    headers = {"anthropic-beta": LONG_OUTPUT_BETA} if long_output else None
    try:
        batch = await without_retries().messages.batches.create(
            requests=[request.as_api() for request in requests],
            extra_headers=headers,
        )
    except anthropic.AnthropicError as exc:
        raise errors.from_sdk(exc) from exc
    return _state(batch)


@dataclass(frozen=True)
class Lookup:
    """What ``find_created`` learnt about an earlier create whose answer never came."""

    found: BatchState | None = None  # the batch it made, proven by its results' custom_ids
    undecided: bool = False  # a batch that may be it is still running: look again later


async def _first_custom_id(upstream_id: str) -> str | None:
    lines = await get_client().messages.batches.results(upstream_id)
    async for line in lines:
        return line.custom_id
    return None


async def find_created(
    custom_ids: Collection[str], *, sent_after: datetime, exclude: Collection[str] = ()
) -> Lookup:
    """The batch an earlier, unanswered create of these requests made, if it made one.

    The API lists batches newest first without their requests, so a candidate is one created
    after ``sent_after`` (less the clock skew) with as many requests as ``custom_ids`` or
    fewer, not already known as another (``exclude``). An ended candidate is proven ours or
    not by its first result's custom_id (ours are unique across every job); a running one
    cannot be proven yet, and creating again could make a second: the answer is then
    ``undecided``. Failures to look are ``UpstreamError``s (try again later, create nothing).
    """
    oldest = sent_after - CLOCK_SKEW
    undecided = False
    try:
        async for batch in get_client().messages.batches.list(limit=100):
            if batch.created_at < oldest:
                break
            total = sum(batch.request_counts.to_dict().values())
            if batch.id in exclude or not 1 <= total <= len(custom_ids):
                continue
            if batch.processing_status != "ended":
                undecided = True
            elif await _first_custom_id(batch.id) in custom_ids:
                return Lookup(found=_state(batch))
    except (anthropic.AnthropicError, httpx2.TransportError) as exc:
        raise errors.from_sdk(exc) from exc
    return Lookup(undecided=undecided)


async def retrieve(upstream_id: str) -> BatchState:
    try:
        return _state(await get_client().messages.batches.retrieve(upstream_id))
    except anthropic.AnthropicError as exc:
        raise errors.from_sdk(exc) from exc


async def cancel(upstream_id: str) -> BatchState:
    try:
        return _state(await get_client().messages.batches.cancel(upstream_id))
    except anthropic.AnthropicError as exc:
        raise errors.from_sdk(exc) from exc


def _result(line: Any) -> BatchResult:
    result = line.result
    if result.type == "succeeded":
        message = result.message
        return BatchResult(
            custom_id=line.custom_id,
            outcome="succeeded",
            content=[block.to_dict() for block in message.content],
            stop_reason=message.stop_reason or "",
            usage=usage_from_sdk(message.usage),
            message_id=message.id,
            model=message.model,
        )
    if result.type == "errored":
        failure = result.error
        return BatchResult(
            custom_id=line.custom_id,
            outcome="errored",
            error=errors.from_error_object(
                failure.error.type, failure.error.message, request_id=failure.request_id or ""
            ),
        )
    return BatchResult(custom_id=line.custom_id, outcome=result.type)


async def results(upstream_id: str) -> AsyncIterator[BatchResult]:
    """The results of an ended batch, streamed line by line (in no particular order)."""
    try:
        lines = await get_client().messages.batches.results(upstream_id)
        async for line in lines:
            yield _result(line)
    # The JSONL body is streamed: a dropped connection surfaces unwrapped while iterating.
    except (anthropic.AnthropicError, httpx2.TransportError) as exc:
        raise errors.from_sdk(exc) from exc
