"""`python -m chatapp.offline_upstream --host 127.0.0.1 --port 8765` serves the offline upstream."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .state import PACE_ENV


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
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.tokens_per_second),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        server_header=False,
    )


if __name__ == "__main__":
    main()
