"""The Message Batches API of the offline upstream: batches that finish on a schedule.

A batch's requests finish one after another, spread evenly over its processing time
(`processing_seconds`: env OFFLINE_UPSTREAM_BATCH_SECONDS, `--batch-seconds`, or
`/_control/batches`), on the upstream's clock, so tests move time with `advance_clock` instead
of waiting. Nothing runs in the background: a batch is brought up to date whenever it is looked
at, answering the requests that are due in order (so a shared cached prefix is written by the
first and read by the rest, as upstream).

As the API documents, `request_counts` show every request as `processing` until the whole batch
has ended; a cancelled batch answers the requests that finished before the cancellation and
marks the rest `canceled`; a batch still running 24 hours after its creation ends with the rest
`expired`. Results come back as JSON Lines in an order of their own: match them by custom_id.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .cache import Clock
from .errors import ApiError, invalid, new_batch_id
from .faults import Fault, magic_fault
from .prompt import as_blocks
from .replies import last_user_text

BATCH_SECONDS_ENV = "OFFLINE_UPSTREAM_BATCH_SECONDS"
DEFAULT_BATCH_SECONDS = 5.0
# The API reference: 1–10,000 requests per create call (the guide's 100,000 is not what the
# API accepts).
MAX_BATCH_REQUESTS = 10_000
MAX_BATCH_BYTES = 256 * 1024 * 1024
EXPIRES_AFTER_SECONDS = 24 * 3600
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
RESULTS_CONTENT_TYPE = "application/binary"



@dataclass(frozen=True)
class BatchOptions:
    """What the create call's headers say about every request of the batch."""

    long_output: bool = False  # the long-output beta: a larger max_tokens
    strict: bool = True  # anthropic-version 2026-10-21 or later
    betas: frozenset[str] = frozenset()


# A request's params and its batch's options → its `result` object.
Answer = Callable[[Any, BatchOptions], dict[str, Any]]


def batch_seconds_from_env() -> float:
    value = os.environ.get(BATCH_SECONDS_ENV, "").strip()
    return float(value) if value else DEFAULT_BATCH_SECONDS


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class BatchRequest:
    custom_id: str
    params: Any
    due: float  # clock time at which its answer is ready
    result: dict[str, Any] | None = None


@dataclass
class Batch:
    id: str
    created: float  # on the upstream's clock
    created_wall: datetime
    requests: list[BatchRequest]
    options: BatchOptions
    cancel_initiated: float | None = None
    ended: float | None = None

    @property
    def expires(self) -> float:
        return self.created + EXPIRES_AFTER_SECONDS

    @property
    def processing_status(self) -> str:
        if self.ended is not None:
            return "ended"
        return "canceling" if self.cancel_initiated is not None else "in_progress"

    def _wall(self, moment: float | None) -> str | None:
        if moment is None:
            return None
        return _iso(self.created_wall + timedelta(seconds=moment - self.created))

    def advance(self, now: float, answer: Answer) -> None:
        """Answer every request due by `now`, then end the batch if nothing is left to do."""
        if self.ended is not None:
            return
        stops = [now, self.expires]
        if self.cancel_initiated is not None:
            stops.append(self.cancel_initiated)
        horizon = min(stops)
        for request in self.requests:
            if request.result is None and request.due <= horizon:
                request.result = answer(request.params, self.options)
        if all(request.result is not None for request in self.requests):
            self.ended = max(request.due for request in self.requests)
        elif self.cancel_initiated is not None and now > self.cancel_initiated:
            self._end_rest("canceled", self.cancel_initiated)
        elif now >= self.expires:
            self._end_rest("expired", self.expires)

    def _end_rest(self, outcome: str, moment: float) -> None:
        for request in self.requests:
            if request.result is None:
                request.result = {"type": outcome}
        self.ended = moment

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if self.ended is None:
            counts["processing"] = len(self.requests)
            return counts
        for request in self.requests:
            counts[request.result["type"]] += 1  # type: ignore[index]
        return counts

    def as_json(self, base_url: str) -> dict[str, Any]:
        ended = self.ended is not None
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": self.counts(),
            "ended_at": self._wall(self.ended),
            "created_at": self._wall(self.created),
            "expires_at": self._wall(self.expires),
            "archived_at": None,
            "cancel_initiated_at": self._wall(self.cancel_initiated),
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }

    def results_lines(self) -> list[bytes]:
        """One JSON line per request, in an order of its own (fixed per batch)."""
        shuffled = random.Random(self.id).sample(self.requests, len(self.requests))
        return [
            json.dumps({"custom_id": r.custom_id, "result": r.result}, separators=(",", ":"))
            .encode() + b"\n"
            for r in shuffled
        ]


def _unanswerable(params: Any, options: BatchOptions) -> dict[str, Any]:
    raise RuntimeError("BatchStore.answer was not set")


class BatchStore:
    """Every batch of one upstream. `answer` (set by the app) turns params into a result."""

    def __init__(self, clock: Clock, processing_seconds: float | None = None) -> None:
        self.clock = clock
        self.default_processing_seconds = (
            batch_seconds_from_env() if processing_seconds is None else processing_seconds
        )
        self.processing_seconds = self.default_processing_seconds
        # The next results download is cut after this many lines (a connection lost halfway).
        self.drop_results_after: int | None = None
        self.answer: Answer = _unanswerable
        self._batches: dict[str, Batch] = {}

    def reset(self) -> None:
        self._batches.clear()
        self.processing_seconds = self.default_processing_seconds
        self.drop_results_after = None

    def take_results_drop(self) -> int | None:
        """The line count of a queued results drop, consumed by this download."""
        lines, self.drop_results_after = self.drop_results_after, None
        return lines

    def create(self, requests: list[tuple[str, Any]], options: BatchOptions) -> Batch:
        now = self.clock.now()
        spacing = self.processing_seconds / len(requests)
        batch = Batch(
            id=new_batch_id(),
            created=now,
            created_wall=datetime.now(UTC),
            requests=[
                BatchRequest(custom_id, params, now + spacing * (index + 1))
                for index, (custom_id, params) in enumerate(requests)
            ],
            options=options,
        )
        self._batches[batch.id] = batch
        return batch

    def get(self, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"message_batch_id: no batch with id {batch_id}")
        batch.advance(self.clock.now(), self.answer)
        return batch

    def newest_first(self) -> list[Batch]:
        batches = sorted(self._batches.values(), key=lambda batch: batch.created, reverse=True)
        for batch in batches:
            batch.advance(self.clock.now(), self.answer)
        return batches

    def cancel(self, batch_id: str) -> Batch:
        batch = self.get(batch_id)
        if batch.ended is None and batch.cancel_initiated is None:
            batch.cancel_initiated = self.clock.now()
        return batch

    def delete(self, batch_id: str) -> None:
        batch = self.get(batch_id)
        if batch.ended is None:
            raise invalid(
                f"Batch {batch_id} cannot be deleted while it is in progress; cancel it first."
            )
        del self._batches[batch_id]


def parse_create(raw: bytes) -> list[tuple[str, Any]]:
    """(custom_id, params) of every request in a create body; the API's 4xx otherwise."""
    if len(raw) > MAX_BATCH_BYTES:
        raise ApiError(413)
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"There was an error parsing the body of your request: {exc}") from exc
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list):
        raise invalid("requests: Field required")
    if not requests:
        raise invalid("requests: List should have at least 1 item after validation, not 0")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise invalid(
            f"requests: List should have at most {MAX_BATCH_REQUESTS} items after validation, "
            f"not {len(requests)}"
        )
    parsed, seen = [], set()
    for index, request in enumerate(requests):
        custom_id = request.get("custom_id") if isinstance(request, dict) else None
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise invalid(f"requests.{index}.custom_id: String should match pattern "
                          "'^[a-zA-Z0-9_-]{1,64}$'")
        if custom_id in seen:
            raise invalid(f"requests: custom_id must be unique within a batch: {custom_id}")
        if not isinstance(request.get("params"), dict):
            raise invalid(f"requests.{index}.params: Input should be a valid dictionary")
        seen.add(custom_id)
        parsed.append((custom_id, request["params"]))
    return parsed


def request_fault(params: dict[str, Any]) -> Fault | None:
    """A magic phrase in the last user message's text, or in a text document in it.

    The prompt of a batch is usually the same for every request; the documents differ, so a
    phrase inside a document is how one request of many is made to fail."""
    texts = [last_user_text(params)]
    for message in reversed(params.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            for block in as_blocks(message.get("content")):
                source = block.get("source") or {}
                if block.get("type") == "document" and source.get("type") == "text":
                    texts.append(str(source.get("data", "")))
            break
    return magic_fault(" ".join(texts))
