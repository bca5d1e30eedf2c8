"""The relay benchmark's results as a markdown section of docs/benchmarks.md (only its own
section, between markers, is ever replaced: other benchmarks share the file)."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

SETUPS = {
    "embedded": "embedded defaults: SQLite, in-memory channel layer, one server process",
    "redis": "PostgreSQL + Redis, two server processes (sockets alternate between them)",
}


def markers(setup: str) -> tuple[str, str]:
    return (f"<!-- relay-benchmark:{setup}:start -->", f"<!-- relay-benchmark:{setup}:end -->")


def replace_section(path: Path, setup: str, section: str) -> None:
    """Put `section` between this setup's markers in `path`, or append it with its markers."""
    start, end = markers(setup)
    text = path.read_text() if path.exists() else ""
    block = f"{start}\n{section.strip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f} ms"


def _verdict(ok: bool) -> str:
    return "✅" if ok else "❌"


def sustained(levels: list[dict[str, Any]], bound_ms: float) -> int:
    """The most concurrent streams that all completed with p99 added latency within the bound."""
    passing = [lvl["streams"] for lvl in levels
               if lvl["p99_ms"] <= bound_ms and lvl["complete"] == lvl["streams"]]
    return max(passing, default=0)


def summary_rows(result: dict[str, Any], options: argparse.Namespace) -> dict[str, str]:
    window = options.coalesce_ms
    bound = window + 50
    levels = result["levels"]
    top = levels[-1]
    ttft = result["ttft"]
    rows = {
        "TTFT app ÷ SDK direct (≤ 1.05)":
            f"{ttft['ratio']:.3f} ({ttft['app_ms']:.0f} / {ttft['sdk_ms']:.0f} ms) "
            f"{_verdict(ttft['ratio'] <= 1.05)}",
        "… app's time before it asks the upstream; first text's relay":
            f"{ttft['before_upstream_ms']:.0f} ms; {ttft['first_relay_ms']:.0f} ms",
        f"added latency p50 at {top['streams']} streams (≤ {window + 5} ms)":
            f"{_ms(top['p50_ms'])} {_verdict(top['p50_ms'] <= window + 5)}",
        f"added latency p99 at {top['streams']} streams (≤ {bound} ms)":
            f"{_ms(top['p99_ms'])} {_verdict(top['p99_ms'] <= bound)}",
        f"streams sustained under p99 ≤ {bound} ms (≥ 500)":
            f"{sustained(levels, bound)} of {', '.join(str(lv['streams']) for lv in levels)} "
            f"{_verdict(sustained(levels, bound) >= 500)}",
        "app CPU s per 1,000 tokens (lowest level)": f"{levels[0]['app_cpu_per_1k']:.3f}",
        # On the wire: what TCP carried, after compression where the socket has it.
        "wire bytes of the deltas ÷ text (≤ 1.5) + per-reply constant":
            f"{top['delta_wire_per_char']:.2f} + {top['wire_overhead_bytes']:.0f} B "
            + ("(permessage-deflate) " if top["compressed"] else "(uncompressed) ")
            + _verdict(top["delta_wire_per_char"] <= 1.5),
        "… whole reply on the wire ÷ text; delta frames before compression ÷ text":
            f"{top['wire_per_char']:.2f}; {top['delta_bytes_per_char']:.2f} "
            f"+ {top['frame_overhead_bytes']:.0f} B",
        "DB write transactions per reply (≤ 3 + checkpoints)":
            f"{top['transactions_per_reply']:.2f} of ≤ {top['allowed_writes']:.0f} "
            f"({top['statements_per_reply']:.2f} statements) "
            f"{_verdict(top['transactions_per_reply'] <= top['allowed_writes'])}",
        "RSS per active stream": f"{top['active_rss_kib']:.0f} KiB",
        "WebSocket handshakes dropped by the server (retried)":
            str(result.get("dropped_handshakes", 0)),
    }
    if result.get("idle"):
        idle = result["idle"]
        rows[f"RSS per idle socket ({idle['sockets']} sockets)"] = (
            f"{idle['rss_per_socket_kib']:.1f} KiB")
        rows[f"CPU of {idle['sockets']} idle sockets (< 2 %)"] = (
            f"{idle['cpu_percent']:.2f} % of a core {_verdict(idle['cpu_percent'] < 2)}")
    if result.get("churn"):
        churn = result["churn"]
        grew = churn["after_mib"] - churn["before_mib"]
        rows[f"RSS before → after {churn['cycles']:,} connect/disconnect"] = (
            f"{churn['before_mib']:.1f} → {churn['after_mib']:.1f} MiB ({grew:+.1f}; "
            f"{churn['per_second']:.0f} cycles/s)")
    return rows


def level_table(result: dict[str, Any]) -> list[str]:
    lines = [
        f"**{result['server']}**, per level:",
        "",
        "| streams | complete | p50 | p99 | TTFT p50 | app CPU/1k tok | upstream CPU/1k | "
        "clients CPU/1k | frames/reply | writes/reply | RSS/stream |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lvl in result["levels"]:
        lines.append(
            f"| {lvl['streams']} | {lvl['complete']} | {_ms(lvl['p50_ms'])} | "
            f"{_ms(lvl['p99_ms'])} | {_ms(lvl['ttft_p50_ms'])} | {lvl['app_cpu_per_1k']:.3f} s | "
            f"{lvl['upstream_cpu_per_1k']:.3f} s | {lvl['client_cpu_per_1k']:.3f} s | "
            f"{lvl['frames_per_reply']:.0f} | {lvl['transactions_per_reply']:.2f} | "
            f"{lvl['active_rss_kib']:.0f} KiB |"
        )
    return lines


def render(results: list[dict[str, Any]], options: argparse.Namespace,
           machine: dict[str, Any]) -> str:
    setup = "redis" if options.redis else "embedded"
    command = "make bench" + (f" BENCH_ARGS={shlex.quote(' '.join(sys.argv[1:]))}"
                              if sys.argv[1:] else "")
    rows = [summary_rows(result, options) for result in results]
    lines = [
        f"### Relay, {SETUPS[setup]}",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine['cpus']} "
        f"CPUs, Python {machine['python']}; load average {' '.join(machine['load_before'])} "
        f"before, {' '.join(machine['load_after'])} after ({machine['minutes']:.1f} min). "
        f"Upstream {options.rate:g} tokens/s in text events {_rhythm(options.event_ms)}, "
        f"{options.first_token_ms:g} ms to the first token; replies of {options.tokens} tokens "
        f"sent over {options.ramp:g} s; coalescing "
        f"window {options.coalesce_ms} ms, checkpoint every {options.checkpoint_seconds:g} s.",
        "",
        "| measure (target) | " + " | ".join(r["server"] for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for name in rows[0]:
        lines.append(f"| {name} | " + " | ".join(r.get(name, "–") for r in rows) + " |")
    for result in results:
        lines += ["", *level_table(result)]
    return "\n".join(lines) + "\n"


def _rhythm(event_ms: str) -> str:
    return "of 1–3 tokens" if event_ms.strip() == "0" else f"{event_ms} ms apart"
