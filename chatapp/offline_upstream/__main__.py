"""`python -m chatapp.offline_upstream --host 127.0.0.1 --port 8765` serves the offline upstream."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .batches import BATCH_SECONDS_ENV
from .state import EVENT_MS_ENV, FIRST_TOKEN_ENV, PACE_ENV, parse_event_ms


def event_ms(value: str) -> str:
    """An --event-ms value, checked (argparse turns the ValueError into a usage error)."""
    parse_event_ms(value)
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatapp.offline_upstream",
        description="Serve the offline stand-in for the Anthropic Messages API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=None,
        help=f"stream pace (default: ${PACE_ENV}, else 60; 0 = unpaced)",
    )
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=None,
        help=f"how long a message batch takes (default: ${BATCH_SECONDS_ENV}, else 5)",
    )
    parser.add_argument(
        "--first-token-seconds",
        type=float,
        default=None,
        help=f"wait before a reply's first token (default: ${FIRST_TOKEN_ENV}, else 0)",
    )
    parser.add_argument(
        "--event-ms",
        type=event_ms,
        default=None,
        help=f"gap between a paced stream's text events, LOW-HIGH ms (default: ${EVENT_MS_ENV}, "
        "else Claude's 70-200; 0 = a delta of 1-3 tokens each time)",
    )
    parser.add_argument(
        "--stamps",
        action="store_true",
        help="record the write time of every streamed text delta (GET /_control/stamps)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.tokens_per_second, args.batch_seconds, args.first_token_seconds,
                   args.stamps, args.event_ms),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        server_header=False,
    )


if __name__ == "__main__":
    main()
