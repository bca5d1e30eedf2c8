"""The relay benchmark's burst mode (issue 18): N messages sent in the same instant.

    .venv/bin/python -m benchmarks.relay --burst-only             # 50 at once, 100 and 25 ms
    .venv/bin/python -m benchmarks.relay --burst-only --redis --burst 100

For each rhythm (`--burst-event-ms`, default "100,25": ms between the upstream's text events)
a fresh upstream and fresh app servers are started. First the SDK (`chatapp.claude`, the app's
one door to the API) reads N replies from that upstream at once, directly: the baseline. Then N
conversations are made through the JSON API (the server's CPU for that, per conversation), N
sockets opened, and all N messages sent in the same instant; the clients note each reply's
first text and its `message_completed`. Ratios are the app's percentile ÷ the SDK's same
percentile, from the same run. Server CPU (utime + stime from /proc) runs from just before
the sends until the server is quiet again, so each reply's start, relay, checks, final write
and title are all in it. The CPU per relayed event is the difference between this burst and a
second burst of replies with more events, divided by the extra events: what one more event
costs, apart from the per-reply work.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
import uuid
from contextlib import aclosing
from pathlib import Path
from typing import Any

from benchmarks.relay_clients import Reply, Session, ask, prompt
from benchmarks.relay_servers import PASSWORD, AppServers, app_servers_for, start_upstream, stop
from chatapp.offline_upstream.testing import UpstreamControl

MODEL = "claude-sonnet-4-6"
TOKENS_PER_EVENT = 6  # the upstream's pace is set so that each gap carries this many tokens


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--burst", type=int, default=None,
                        help="messages sent in the same instant (default 50; 100 with --redis, "
                        "spread over its two processes; 0: no burst)")
    parser.add_argument("--burst-only", action="store_true",
                        help="run the burst and nothing else")
    parser.add_argument("--burst-event-ms", default="100,25",
                        help="ms between the upstream's text events, one burst per value")
    parser.add_argument("--burst-events", type=int, default=40,
                        help="text events per reply")
    parser.add_argument("--burst-long-events", type=int, default=120,
                        help="text events per reply of the second burst (CPU per event); 0: none")
    parser.add_argument("--burst-profile", type=Path, default=None,
                        help="a folder for py-spy profiles of the servers during each burst")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def sdk_burst(count: int, tokens: int, tag: str) -> dict[str, list[float]]:
    """`count` replies read by the SDK directly, all asked in the same instant."""
    from chatapp.claude.messages import stream_reply
    from chatapp.claude.types import StreamFinished, TextDelta

    async def one(index: int) -> tuple[float, float]:
        request = {"model": MODEL, "max_tokens": 4096,
                   "messages": [{"role": "user", "content": prompt(f"{tag}-{index}", tokens)}]}
        sent = time.monotonic()
        first = 0.0
        async with aclosing(stream_reply(request)) as events:
            async for event in events:
                if isinstance(event, TextDelta) and not first:
                    first = time.monotonic() - sent
                elif isinstance(event, StreamFinished):
                    return first, time.monotonic() - sent
        raise RuntimeError("the SDK stream ended without its final message")

    results = await asyncio.gather(*(one(i) for i in range(count)))
    return {"ttft": [r[0] for r in results], "reply": [r[1] for r in results]}


async def wait_quiet(servers: AppServers, *, step: float = 0.3, quiet_cpu: float = 0.004,
                     limit: float = 20.0) -> None:
    """Until the servers spend under `quiet_cpu` s of CPU in a `step` (titles written)."""
    deadline = time.monotonic() + limit
    last = servers.cpu()
    while time.monotonic() < deadline:
        await asyncio.sleep(step)
        now = servers.cpu()
        if now - last < quiet_cpu:
            return
        last = now


class BurstBench:
    def __init__(self, servers: AppServers, upstream: UpstreamControl, options: argparse.Namespace):
        self.servers = servers
        self.upstream = upstream
        self.options = options
        self.session = Session(servers.url(), "demo", PASSWORD)

    async def conversations(self, count: int) -> tuple[list[int], float]:
        """`count` new conversations through the JSON API; the servers' CPU per conversation."""
        await asyncio.to_thread(self.session.new_conversations, 4)  # warm the path up
        await wait_quiet(self.servers)
        before = self.servers.cpu()
        ids = await asyncio.to_thread(self.session.new_conversations, count)
        return ids, (self.servers.cpu() - before) / count

    def start_profilers(self, label: str) -> list[subprocess.Popen]:
        """py-spy on each server process during the burst, if --burst-profile names a folder
        (collapsed stacks, one file per process and burst). Only the thread holding the GIL
        is sampled (``--gil``): without it a thread waiting for the GIL (the ORM thread,
        while the event loop runs) is counted busy wherever it waits, and the shares are
        not CPU."""
        folder = self.options.burst_profile
        if not folder:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        py_spy = Path(sys.executable).parent / "py-spy"
        return [subprocess.Popen(
            [str(py_spy), "record", "--pid", str(pid), "--rate", "200", "--format", "raw",
             "--threads", "--gil",
             "--output", str(folder / f"{label}-{pid}-{time.time():.0f}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ) for pid in self.servers.pids]

    async def warm_up(self) -> None:
        """A few replies through each server first (imports, the SDK's client, caches), as
        the SDK's side is warmed up: a running server has answered before."""
        from benchmarks.relay import close_all

        ids = await asyncio.to_thread(self.session.new_conversations, 2 * len(self.servers.pids))
        sockets, _opener = await self.open(ids)
        await asyncio.gather(*(ask(ws, prompt(f"warm-{i}", 20)) for i, ws in enumerate(sockets)))
        await wait_quiet(self.servers)
        await close_all(sockets)

    async def open(self, ids: list[int]) -> tuple[list, Any]:
        from benchmarks.relay import Bench

        opener = Bench.__new__(Bench)  # only its socket opening (retries, alternating servers)
        opener.servers, opener.session, opener.dropped_handshakes = (
            self.servers, self.session, 0)
        return await opener.open_many(ids), opener

    async def app_burst(self, count: int, tokens: int) -> dict[str, Any]:
        from benchmarks.relay import close_all

        ids, create_cpu = await self.conversations(count)
        sockets, opener = await self.open(ids)
        await wait_quiet(self.servers)
        self.upstream.record_stamps()
        tag = uuid.uuid4().hex[:6]
        start = asyncio.Event()

        async def one(index: int, ws) -> Reply:
            await start.wait()
            return await ask(ws, prompt(f"burst-{tag}-{index}", tokens))

        tasks = [asyncio.create_task(one(i, ws)) for i, ws in enumerate(sockets)]
        await asyncio.sleep(0.05)  # every task is waiting on the gate
        profilers = self.start_profilers(f"{tokens}")
        cpu_before = self.servers.cpu()
        start.set()
        replies = await asyncio.gather(*tasks)
        await wait_quiet(self.servers)
        cpu = self.servers.cpu() - cpu_before
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()
        await close_all(sockets)
        stamps = await asyncio.to_thread(self.upstream.stamps)
        mine = {s["prompt"]: s for s in stamps if f"burst-{tag}-" in s["prompt"]}
        events = sum(len(s["writes"]) for s in mine.values())
        # Where a first token's extra time goes: before the app asks the upstream, and relaying.
        before = [mine[r.prompt]["received"] - r.sent for r in replies if r.prompt in mine]
        relay = [r.arrivals[0][0] - mine[r.prompt]["writes"][0][0]
                 for r in replies if r.prompt in mine and r.arrivals and mine[r.prompt]["writes"]]
        return {
            "ttft": [r.ttft or float("nan") for r in replies],
            "reply": [r.done - r.sent for r in replies],
            "complete": sum(r.status == "complete" for r in replies),
            "in_order": all(_in_order(r) for r in replies),
            "cpu_per_reply": cpu / count, "events_per_reply": events / count,
            "before_upstream": (percentile(before, 50), percentile(before, 90)),
            "first_relay": (percentile(relay, 50), percentile(relay, 90)),
            "create_cpu": create_cpu, "dropped_handshakes": opener.dropped_handshakes,
        }


def _in_order(reply: Reply) -> bool:
    counts = [chars for _at, chars in reply.arrivals]
    return counts == sorted(counts)


def ratios(app: list[float], sdk: list[float]) -> dict[int, tuple[float, float, float]]:
    """Per percentile: (app, sdk, app ÷ sdk)."""
    out = {}
    for q in (50, 90, 99):
        a, s = percentile(app, q), percentile(sdk, q)
        out[q] = (a, s, a / s)
    return out


async def one_rhythm(options: argparse.Namespace, kind: str, gap_ms: float) -> dict[str, Any]:
    rate = TOKENS_PER_EVENT * 1000 / gap_ms
    upstream_url, upstream = start_upstream(rate, options.first_token_ms / 1000, f"{gap_ms:g}")
    try:
        from django.conf import settings

        settings.ANTHROPIC_BASE_URL = upstream_url  # the SDK's client follows (chatapp.claude)
        servers = await asyncio.to_thread(app_servers_for, kind, upstream_url, options)
        try:
            bench = BurstBench(servers, UpstreamControl(upstream_url), options)
            n, tokens = options.burst, options.burst_events * TOKENS_PER_EVENT
            load_before = loadavg()
            await sdk_burst(min(n, 10), 20, "warm")  # the SDK's client and imports warmed
            await bench.warm_up()
            sdk = await sdk_burst(n, tokens, f"sdk-{uuid.uuid4().hex[:6]}")
            app = await bench.app_burst(n, tokens)
            result = {"gap_ms": gap_ms, "rate": rate, "sdk": sdk, "app": app,
                      "ttft": ratios(app["ttft"], sdk["ttft"]),
                      "reply": ratios(app["reply"], sdk["reply"]),
                      "load_before": load_before}
            if options.burst_long_events:
                long = await bench.app_burst(n, options.burst_long_events * TOKENS_PER_EVENT)
                extra = long["events_per_reply"] - app["events_per_reply"]
                result["cpu_per_event"] = (long["cpu_per_reply"] - app["cpu_per_reply"]) / extra
                result["long"] = long
            result["load_after"] = loadavg()
            return result
        finally:
            await asyncio.to_thread(servers.stop)
    finally:
        stop(upstream)


def render(results: list[dict[str, Any]], options: argparse.Namespace, kind: str) -> str:
    setup = ("PostgreSQL + Redis, two processes" if options.redis
             else "SQLite, in-memory layer, one process")
    lines = [
        f"Burst of {options.burst} messages at once ({kind}, {setup}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; replies of "
        f"~{options.burst_events} text events, {options.first_token_ms:g} ms to the first token:",
        "",
        "| events apart | TTFT ÷ SDK p50 / p90 / p99 (≤ 1.3 / 2) | whole reply ÷ SDK p50 / p90 / "
        f"p99 (≤ 1.10) | CPU/reply (≤ {60 if options.redis else 40} ms) | CPU/event (≤ 0.15 ms) | "
        "create conversation CPU "
        "(≤ 15 ms) | before asking upstream p50 / p90; first text's relay p50 / p90 | "
        "complete, in order | load before → after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t, w, app = r["ttft"], r["reply"], r["app"]
        per_event = f"{r['cpu_per_event'] * 1000:.3f} ms" if "cpu_per_event" in r else "–"
        lines.append(
            f"| {r['gap_ms']:g} ms | {t[50][2]:.2f} / {t[90][2]:.2f} / {t[99][2]:.2f} "
            f"({t[50][0] * 1000:.0f} vs {t[50][1] * 1000:.0f} ms) | "
            f"{w[50][2]:.2f} / {w[90][2]:.2f} / {w[99][2]:.2f} "
            f"({w[50][0]:.2f} vs {w[50][1]:.2f} s) | {app['cpu_per_reply'] * 1000:.0f} ms "
            f"({app['events_per_reply']:.0f} events) | {per_event} | "
            f"{app['create_cpu'] * 1000:.1f} ms | "
            f"{app['before_upstream'][0] * 1000:.0f} / {app['before_upstream'][1] * 1000:.0f}; "
            f"{app['first_relay'][0] * 1000:.0f} / {app['first_relay'][1] * 1000:.0f} ms | "
            f"{app['complete']}/{options.burst}, "
            f"{'yes' if app['in_order'] else 'NO'} | {r['load_before']} → {r['load_after']} |"
        )
    return "\n".join(lines) + "\n"


async def run(options: argparse.Namespace) -> str:
    sections = []
    for kind in options.servers:
        results = [await one_rhythm(options, kind, float(gap))
                   for gap in options.burst_event_ms.split(",") if gap.strip()]
        sections.append(render(results, options, kind))
    return "\n".join(sections)
