"""What the relay adds to a streaming reply, measured from outside (issue 10).

    make bench                         # embedded defaults: SQLite, in-memory layer, one process
    make bench BENCH_ARGS=--redis      # PostgreSQL + Redis, two processes
    .venv/bin/python -m benchmarks.relay --help

Starts the offline upstream (paced, stamping the write time of every text delta) and the app
under daphne and then uvicorn, and drives each only as a browser would: a session from the
login form, conversations from the JSON API, one real WebSocket per conversation. Reports, per
server: added latency per delta (upstream write → client receipt, against the coalescing
window), time to first token through the app ÷ the SDK reading the upstream directly, CPU per
1,000 relayed tokens, how many concurrent streams stay under the latency bound, wire bytes ÷
text, database writes per reply (counted by benchmarks/write_log.py), memory per idle socket and
per active stream, CPU of idle sockets, and memory before and after connect/disconnect churn.
The results replace this benchmark's own section of docs/benchmarks.md.

Everything runs on 127.0.0.1. The machine's load is recorded with the results: the clients
and the upstream share the machine with the server, so a busy machine shows up as latency.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import bisect
import math
import os
import platform
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import InvalidHandshake

from benchmarks import relay_burst
from benchmarks.relay_clients import Reply, Session, ask, open_socket, prompt
from benchmarks.relay_servers import (
    PASSWORD,
    ROOT,
    AppServers,
    app_servers_for,
    cpu_seconds,
    start_upstream,
    stop,
)
from benchmarks.write_log import read_counts
from chatapp.offline_upstream.testing import UpstreamControl

DOC = ROOT / "docs" / "benchmarks.md"
MODEL = "claude-sonnet-4-6"  # the default model of a new conversation
P99_EXTRA_MS = 50  # the bound: p99 added latency ≤ coalescing window + this
MiB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", action="store_true",
                        help="PostgreSQL + Redis with two server processes")
    parser.add_argument("--servers", default="daphne,uvicorn",
                        help="comma-separated: daphne, uvicorn (default both)")
    parser.add_argument("--rate", type=float, default=60, help="upstream tokens per second")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per reply (K)")
    parser.add_argument("--levels", default="25,50,100,200",
                        help="concurrent streams to try, comma-separated")
    parser.add_argument("--ramp", type=float, default=1.0,
                        help="seconds over which a level's messages are sent")
    parser.add_argument("--first-token-ms", type=float, default=500,
                        help="upstream's wait before a reply's first token (Claude: 0.5-2 s)")
    parser.add_argument("--event-ms", default="70-200",
                        help="gap between the upstream's text events, LOW-HIGH ms (Claude's "
                        "70-200; 0 = a delta of 1-3 tokens each time)")
    parser.add_argument("--ttft-pairs", type=int, default=10,
                        help="app-vs-SDK time-to-first-token pairs")
    parser.add_argument("--idle", type=int, default=1000, help="idle sockets to hold")
    parser.add_argument("--idle-seconds", type=float, default=20,
                        help="how long idle CPU is measured (covers one 20 s ping interval)")
    parser.add_argument("--churn", type=int, default=500, help="connect/disconnect cycles")
    parser.add_argument("--coalesce-ms", type=int, default=30, help="CHATAPP_COALESCE_MS")
    parser.add_argument("--checkpoint-seconds", type=float, default=2.0,
                        help="CHATAPP_CHECKPOINT_SECONDS")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-url", default=os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    parser.add_argument("--output", type=Path, default=DOC,
                        help="the markdown file whose section is replaced")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    relay_burst.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.burst is None:
        args.burst = 100 if args.redis else 50
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.levels = [int(n) for n in args.levels.split(",") if n.strip()]
    if not set(args.servers) <= {"daphne", "uvicorn"} or not args.servers:
        parser.error("--servers takes daphne and/or uvicorn")
    if not args.levels or min(args.levels) < 1 or args.tokens < 1:
        parser.error("--levels and --tokens must be positive")
    return args


# --- statistics -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def added_latencies(replies: list[Reply], stamps: list[dict[str, Any]]) -> list[float]:
    """For every text delta the upstream wrote: seconds until the client had its last character."""
    writes = {stream["prompt"]: stream["writes"] for stream in stamps}
    latencies = []
    for reply in replies:
        chars = [count for _at, count in reply.arrivals]
        for written_at, count in writes.get(reply.prompt, []):
            index = bisect.bisect_left(chars, count)
            if index < len(chars):
                latencies.append(reply.arrivals[index][0] - written_at)
    return latencies


# --- measurements ---------------------------------------------------------------------------


@dataclass
class Usage:
    """Costs read at one moment: CPU of the app, the upstream and these clients; app memory;
    database writes so far."""

    at: float
    app_cpu: float
    upstream_cpu: float
    client_cpu: float
    rss: int
    writes: dict[str, int]

    def minus(self, before: Usage) -> dict[str, float]:
        return {
            "seconds": self.at - before.at,
            "app_cpu": self.app_cpu - before.app_cpu,
            "upstream_cpu": self.upstream_cpu - before.upstream_cpu,
            "client_cpu": self.client_cpu - before.client_cpu,
            "transactions": self.writes["COMMIT"] - before.writes["COMMIT"],
            "statements": self.writes["statements"] - before.writes["statements"],
        }


@dataclass
class Bench:
    """The scenarios, against one set of app servers."""

    servers: AppServers
    upstream: UpstreamControl
    upstream_pid: int
    options: argparse.Namespace
    session: Session = field(init=False)
    dropped_handshakes: int = 0

    def __post_init__(self) -> None:
        self.session = Session(self.servers.url(), "demo", PASSWORD)

    def usage(self) -> Usage:
        return Usage(time.monotonic(), self.servers.cpu(), cpu_seconds(self.upstream_pid),
                     time.process_time(), self.servers.rss(), read_counts(self.servers.write_log))

    def ws_base(self, index: int) -> str:
        """Sockets alternate between the server processes."""
        port = self.servers.ports[index % len(self.servers.ports)]
        return f"ws://127.0.0.1:{port}"

    async def open_many(self, conversations: list[int], offset: int = 0, parallel: int = 20):
        gate = asyncio.Semaphore(parallel)

        async def one(index: int, conversation: int):
            async with gate:
                return await self.open_retrying(offset + index, conversation)

        return await asyncio.gather(*(one(i, c) for i, c in enumerate(conversations)))

    async def open_retrying(self, index: int, conversation: int, attempts: int = 5):
        """A socket; a handshake the server dropped (daphne gives the app 5 s to accept) is
        counted and tried again, as a browser's reconnect would."""
        for attempt in range(attempts):
            try:
                return await open_socket(self.session, self.ws_base(index), conversation)
            except (OSError, TimeoutError, InvalidHandshake):
                self.dropped_handshakes += 1
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    async def ttft(self) -> dict[str, Any]:
        """Pairs of (through the app, the SDK directly) on the same upstream, alternating."""
        from chatapp.claude.messages import stream_reply
        from chatapp.claude.types import TextDelta

        async def direct(text: str) -> float:
            request = {"model": MODEL, "max_tokens": 1024,
                       "messages": [{"role": "user", "content": text}]}
            sent = time.monotonic()
            async with aclosing(stream_reply(request)) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        return time.monotonic() - sent
            raise RuntimeError("the upstream sent no text")

        pairs = self.options.ttft_pairs + 1  # the first pair warms both paths up
        conversations = await asyncio.to_thread(self.session.new_conversations, pairs)
        sockets = await self.open_many(conversations)
        self.upstream.record_stamps()
        replies, sdk = [], []
        for index, ws in enumerate(sockets):
            replies.append(await ask(ws, prompt(f"ttft-app-{index}-{uuid.uuid4().hex[:6]}", 20)))
            sdk.append(await direct(prompt(f"ttft-sdk-{index}", 20)))
        await close_all(sockets)
        stamps = {s["prompt"]: s for s in await asyncio.to_thread(self.upstream.stamps)}
        replies, sdk = replies[1:], sdk[1:]
        app = statistics.median(r.ttft for r in replies)
        return {
            "app_ms": app * 1000, "sdk_ms": statistics.median(sdk) * 1000,
            "ratio": app / statistics.median(sdk), "pairs": len(replies),
            # Where the app's extra time goes: before it asks the upstream, and relaying.
            "before_upstream_ms": 1000 * statistics.median(
                stamps[r.prompt]["received"] - r.sent for r in replies),
            "first_relay_ms": 1000 * statistics.median(
                r.arrivals[0][0] - stamps[r.prompt]["writes"][0][0] for r in replies),
        }

    async def streams(self, count: int) -> dict[str, Any]:
        """`count` sockets each ask for a reply of K tokens; everything they cost."""
        options = self.options
        conversations = await asyncio.to_thread(self.session.new_conversations, count)
        sockets = await self.open_many(conversations)
        idle_rss = self.servers.rss()
        self.upstream.record_stamps()  # forgets earlier levels' stamps
        tag = uuid.uuid4().hex[:6]
        peak = [idle_rss]
        sampling = asyncio.create_task(self.sample_rss(peak))
        before = self.usage()

        async def one(index: int, ws) -> Reply:
            await asyncio.sleep(options.ramp * index / count)  # arrivals spread over the ramp
            return await ask(ws, prompt(f"{tag}-{count}-{index}", options.tokens))

        replies = await asyncio.gather(*(one(i, ws) for i, ws in enumerate(sockets)))
        spent = self.usage().minus(before)
        for status, how_many in Counter(r.status for r in replies).items():
            if status != "complete":
                print(f"{count} streams: {how_many} replies ended {status!r}", flush=True)
        sampling.cancel()
        compressed = any(ws.protocol.extensions for ws in sockets)
        await close_all(sockets)
        stamps = await asyncio.to_thread(self.upstream.stamps)
        return summarise_streams(count, replies, stamps, spent, options,
                                 active_rss=(peak[0] - idle_rss) / count, compressed=compressed)

    async def sample_rss(self, peak: list[int]) -> None:
        while True:
            peak[0] = max(peak[0], self.servers.rss())
            await asyncio.sleep(0.2)

    async def idle(self, count: int) -> dict[str, Any]:
        """Memory per idle socket (slope over three points) and their CPU over a quiet spell."""
        conversations = await asyncio.to_thread(self.session.new_conversations, 20)
        points = [(0, self.servers.rss())]
        sockets: list = []
        for share in (count // 2, count - count // 2):
            chosen = [conversations[(len(sockets) + i) % 20] for i in range(share)]
            sockets += await self.open_many(chosen, offset=len(sockets))
            points.append((len(sockets), self.servers.rss()))
        before = self.usage()
        await asyncio.sleep(self.options.idle_seconds)  # the quiet spell being measured
        spent = self.usage().minus(before)
        await close_all(sockets)
        slope = statistics.linear_regression([p[0] for p in points], [p[1] for p in points])
        return {"sockets": count, "rss_per_socket_kib": slope.slope / 1024,
                "cpu_percent": 100 * spent["app_cpu"] / spent["seconds"],
                "seconds": spent["seconds"]}

    async def churn(self, cycles: int, parallel: int = 20) -> dict[str, Any]:
        """RSS before and after `cycles` sockets that connect, get `ready` and leave."""
        conversation = (await asyncio.to_thread(self.session.new_conversations, 1))[0]
        gate = asyncio.Semaphore(parallel)

        async def cycle(index: int) -> None:
            async with gate:
                ws = await self.open_retrying(index, conversation)
                await ws.close()

        await asyncio.gather(*(cycle(i) for i in range(min(500, cycles))))  # warm caches up
        before = self.servers.rss()
        started = time.monotonic()
        await asyncio.gather(*(cycle(i) for i in range(cycles)))
        took = time.monotonic() - started
        await asyncio.sleep(2)  # let the server finish tearing the last sockets down
        after = self.servers.rss()
        return {"cycles": cycles, "before_mib": before / MiB, "after_mib": after / MiB,
                "per_second": cycles / took}


async def close_all(sockets: list) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def summarise_streams(count: int, replies: list[Reply], stamps: list[dict[str, Any]],
                      spent: dict[str, float], options: argparse.Namespace, *,
                      active_rss: float, compressed: bool) -> dict[str, Any]:
    latencies = added_latencies(replies, stamps)
    tokens = count * options.tokens
    durations = [r.done - r.sent for r in replies]
    text = sum(r.text_chars for r in replies)
    per_reply_overhead = [r.framed_bytes - r.delta_framed_bytes for r in replies]
    per_reply_wire_overhead = [r.wire_bytes - r.delta_wire_bytes for r in replies]
    return {
        "streams": count,
        "complete": sum(r.status == "complete" for r in replies),
        "deltas": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "ttft_p50_ms": percentile([r.ttft for r in replies if r.ttft], 50) * 1000,
        "app_cpu_per_1k": spent["app_cpu"] / tokens * 1000,
        "upstream_cpu_per_1k": spent["upstream_cpu"] / tokens * 1000,
        "client_cpu_per_1k": spent["client_cpu"] / tokens * 1000,
        "wire_per_char": sum(r.wire_bytes for r in replies) / text,
        "delta_bytes_per_char": sum(r.delta_framed_bytes for r in replies) / text,
        "delta_wire_per_char": sum(r.delta_wire_bytes for r in replies) / text,
        "frame_overhead_bytes": statistics.median(per_reply_overhead),
        "wire_overhead_bytes": statistics.median(per_reply_wire_overhead),
        "frames_per_reply": statistics.median(r.frames for r in replies),
        "compressed": compressed,
        "transactions_per_reply": spent["transactions"] / count,
        "statements_per_reply": spent["statements"] / count,
        "allowed_writes": 3 + statistics.median(durations) // options.checkpoint_seconds,
        "active_rss_kib": active_rss / 1024,
        "reply_seconds": statistics.median(durations),
    }


# --- running --------------------------------------------------------------------------------


def setup_direct_sdk(upstream_url: str) -> None:
    """Django settings for this process, so the SDK is reached through chatapp.claude (the one
    door) exactly as the app reaches it, minus the app."""
    var = tempfile.mkdtemp(prefix="chatapp-bench-sdk-")
    atexit.register(shutil.rmtree, var, ignore_errors=True)
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "ANTHROPIC_API_KEY": "",
                       "OFFLINE_UPSTREAM_URL": upstream_url, "CHATAPP_VAR_DIR": var})
    import django

    django.setup()


async def bench_server(kind: str, options: argparse.Namespace, upstream_url: str,
                       upstream_pid: int) -> dict[str, Any]:
    servers = await asyncio.to_thread(app_servers_for, kind, upstream_url, options)
    try:
        bench = Bench(servers, UpstreamControl(upstream_url), upstream_pid, options)
        result: dict[str, Any] = {"server": kind, "ttft": await bench.ttft(), "levels": []}
        for count in options.levels:
            level = await bench.streams(count)
            result["levels"].append(level)
            print(f"{kind}: {count} streams: p99 {level['p99_ms']:.1f} ms", flush=True)
        result["idle"] = await bench.idle(options.idle) if options.idle else None
        result["churn"] = await bench.churn(options.churn) if options.churn else None
        result["dropped_handshakes"] = bench.dropped_handshakes
        return result
    finally:
        await asyncio.to_thread(servers.stop)


async def run(options: argparse.Namespace) -> list[dict[str, Any]]:
    upstream_url, upstream = start_upstream(
        options.rate, options.first_token_ms / 1000, options.event_ms
    )
    try:
        setup_direct_sdk(upstream_url)
        return [await bench_server(kind, options, upstream_url, upstream.pid)
                for kind in options.servers]
    finally:
        stop(upstream)


async def run_burst(options: argparse.Namespace) -> str:
    setup_direct_sdk("http://127.0.0.1:9")  # each rhythm points the SDK at its own upstream
    return await relay_burst.run(options)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    if options.burst_only:
        section = asyncio.run(run_burst(options))
        print(section)
        if not options.no_write:
            replace_section_burst(options, section)
        return
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    started = time.monotonic()
    results = asyncio.run(run(options))
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    machine = {"load_before": load_before, "load_after": load_after,
               "cpus": os.cpu_count(), "python": platform.python_version(),
               "minutes": (time.monotonic() - started) / 60}
    from benchmarks.relay_report import render, replace_section

    section = render(results, options, machine)
    print(section)
    if not options.no_write:
        replace_section(options.output, "redis" if options.redis else "embedded", section)
    if options.burst:
        burst = asyncio.run(run_burst(options))
        print(burst)
        if not options.no_write:
            replace_section_burst(options, burst)


def replace_section_burst(options: argparse.Namespace, section: str) -> None:
    from benchmarks.relay_report import replace_section

    setup = "burst-redis" if options.redis else "burst-embedded"
    replace_section(options.output, setup, section)


if __name__ == "__main__":
    main()
