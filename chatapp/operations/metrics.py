"""Prometheus metrics (``GET /metrics``; docs/operations.md, "Metrics").

Two sources, each chosen for being truthful with several processes:

- Events (replies started and finished, tokens, cost, upstream errors, refusals, time to first
  token, reply duration) are counted where they happen, in the process they happen in. With
  ``PROMETHEUS_MULTIPROC_DIR`` set (``make run`` and compose.yaml set it; every process of one
  site must share it), ``prometheus_client`` keeps each process's values
  in files there and a scrape of any process sums them all. Without it, the values are this
  process's alone: right for one process.
- States (streams in progress, batch jobs by state) are read from the database at scrape time:
  the database is where they are true, whichever process wrote them, and a process that died
  leaves no stale gauge behind (its replies are marked interrupted by the sweeper).

Each process's files are named by its host name and PID, not the PID alone: in containers the
server and the batch poller are both PID 1, and sharing one directory (compose.yaml) they would
write the same file, each over the other's counts.

The event functions are one-line hooks for the modules where the events happen; they never
raise, so a metrics bug cannot fail a reply.
"""

import logging
import os
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

log = logging.getLogger(__name__)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# prometheus_client names a file "<type>_<identifier>.db" and reads the type up to the first "_".
_HOST = socket.gethostname().replace("_", "-")


def process_identifier() -> str:
    """This process among all that share the directory: host (a container's own) and PID.
    Called at every count (prometheus_client notices a fork by a change), so it stays cheap."""
    return f"{_HOST}-{os.getpid()}"


def _count_in_files_of_this_process() -> None:
    """In multiprocess mode, this process's files carry ``process_identifier``; the directory
    is made if missing (a fresh volume). Before any metric below is made: they take the value
    class in force when they are made."""
    directory = multiprocess_dir()
    if directory:
        os.makedirs(directory, exist_ok=True)
        values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)


_count_in_files_of_this_process()

# Token kinds as they are priced (chatapp.claude.types.Usage field → label).
TOKEN_KINDS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_write_5m_tokens": "cache_write_5m",
    "cache_write_1h_tokens": "cache_write_1h",
    "cache_read_tokens": "cache_read",
}
# Cost kinds as stored in a usage record's cost breakdown (chatapp.claude.pricing).
COST_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "web_search")

REPLIES_STARTED = Counter(
    "chatapp_replies_started", "Replies started (new, regenerated or continued)", ["model"]
)
REPLIES_FINISHED = Counter(
    "chatapp_replies_finished",
    "Replies that ended, by outcome: complete, cancelled, interrupted, error, refusal, deleted",
    ["model", "outcome"],
)
TIME_TO_FIRST_TOKEN = Histogram(
    "chatapp_reply_time_to_first_token_seconds",
    "From the request to Claude to the reply's first text",
    ["model"],
    buckets=(0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 60),
)
REPLY_DURATION = Histogram(
    "chatapp_reply_duration_seconds",
    "From the request to Claude to the reply's end",
    ["model"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200),
)
TOKENS = Counter(
    "chatapp_tokens", "Tokens of every call that reached Claude", ["model", "kind"]
)
COST = Counter(
    "chatapp_cost_usd", "Cost in USD of every priced call that reached Claude", ["model", "kind"]
)
UNPRICED_CALLS = Counter(
    "chatapp_unpriced_calls", "Calls to a model with no price in force (cost unknown)", ["model"]
)
UPSTREAM_ERRORS = Counter(
    "chatapp_upstream_errors",
    "Failed calls to Claude, by the API's error type (or timeout / connection)",
    ["type"],
)
BUDGET_REFUSALS = Counter(
    "chatapp_budget_refusals",
    "Refused because a monthly budget would be exceeded: a reply before it starts, one call of "
    "a reply (or title, summary, routing) before it is sent, or a batch job",
    ["stage"],
)
RATE_LIMIT_REFUSALS = Counter(
    "chatapp_rate_limit_refusals", "Actions refused by a per-user rate limit", ["action"]
)


def _safely(function):
    """Counting must never fail what is being counted."""

    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except Exception:
            log.exception("metrics: %s failed", function.__name__)

    guarded.__name__ = function.__name__
    guarded.__doc__ = function.__doc__
    return guarded


# --- hooks -------------------------------------------------------------------------------------


@_safely
def reply_started(model: str) -> None:
    REPLIES_STARTED.labels(model=model or "unknown").inc()


@_safely
def reply_finished(model: str, result: Any, reply: Any) -> None:
    """A reply's end: ``result`` is the relay's RelayResult, ``reply`` the saved Message (None
    when its conversation was deleted meanwhile)."""
    model = model or "unknown"
    if reply is None:
        outcome = "deleted"
    elif reply.error_code == "refusal":
        outcome = "refusal"
    else:
        outcome = str(reply.status)
    REPLIES_FINISHED.labels(model=model, outcome=outcome).inc()
    if result.ttft_ms is not None:
        TIME_TO_FIRST_TOKEN.labels(model=model).observe(result.ttft_ms / 1000)
    if result.duration_ms is not None:
        REPLY_DURATION.labels(model=model).observe(result.duration_ms / 1000)


@_safely
def usage_recorded(record: Any) -> None:
    """One UsageRecord (a call that reached Claude): its tokens and cost by kind. Counted when
    its transaction commits, so a rolled-back record is not counted."""
    from django.db import transaction

    transaction.on_commit(lambda: _count_usage(record))


@_safely
def _count_usage(record: Any) -> None:
    for field, kind in TOKEN_KINDS.items():
        tokens = getattr(record, field, 0) or 0
        if tokens:
            TOKENS.labels(model=record.model, kind=kind).inc(tokens)
    if record.cost_usd is None:
        UNPRICED_CALLS.labels(model=record.model).inc()
        return
    for kind in COST_KINDS:
        amount = Decimal(record.cost_breakdown.get(kind) or "0")
        if amount:
            COST.labels(model=record.model, kind=kind).inc(float(amount))


def error_type(error: Exception) -> str:
    """The API's error type (``overloaded_error``...), or what went wrong on the way."""
    import anthropic
    import httpx2

    # Once a stream has started, the SDK lets transport errors through unwrapped.
    if isinstance(error, anthropic.APITimeoutError | httpx2.TimeoutException):
        return "timeout"
    if isinstance(error, anthropic.APIConnectionError | httpx2.TransportError):
        return "connection"
    if isinstance(error, anthropic.APIStatusError):
        return error.type or f"http_{error.status_code}"
    return "other"


@_safely
def upstream_error(error: Exception) -> None:
    UPSTREAM_ERRORS.labels(type=error_type(error)).inc()


@_safely
def budget_refused(stage: str) -> None:
    BUDGET_REFUSALS.labels(stage=stage).inc()


@_safely
def rate_limited(action: str) -> None:
    RATE_LIMIT_REFUSALS.labels(action=action).inc()


# --- states, read at scrape time --------------------------------------------------------------


class DatabaseStates(Collector):
    """Streams in progress and batch jobs by state, counted in the database per scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from chatapp.models import BatchJob, BatchJobStatus, Message, MessageStatus

        streams = GaugeMetricFamily(
            "chatapp_streams_in_progress", "Replies being written now (status streaming)"
        )
        streams.add_metric([], Message.objects.filter(status=MessageStatus.STREAMING).count())
        yield streams
        jobs = GaugeMetricFamily("chatapp_batch_jobs", "Batch jobs by state", labels=["state"])
        counts = dict(
            BatchJob.objects.order_by().values_list("status").annotate(n=Count("pk"))
        )
        for state in BatchJobStatus.values:  # every state, 0 included: absent is not zero
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs


def exposition() -> bytes:
    """The text format of every metric: all processes' events (multiprocess mode) or this
    process's, and the database's states."""
    registry = CollectorRegistry(auto_describe=True)
    directory = multiprocess_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_ProcessMetrics())
    registry.register(DatabaseStates())
    return generate_latest(registry)


class _ProcessMetrics(Collector):
    """This process's own metrics (the default registry), for one-process mode."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()
