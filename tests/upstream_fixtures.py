"""Pytest plugin: the offline upstream as fixtures (list it in `pytest_plugins`).

- `offline_upstream` (session): one RunningUpstream for the whole run, at a fast pace.
- `upstream` (function): the same server after `reset()` (no faults, empty cache and request
  log, clock and pace back to their defaults).  Ask for it explicitly; it is not autouse.
- `sdk` (function): the real SDK's async client pointed at `upstream`, without retries.
- `user(...)`, `assistant(...)`: message dicts for requests written by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import pytest

from chatapp.offline_upstream.testing import RunningUpstream

# Fast enough that a few hundred tokens take a fraction of a second, slow enough that a stream
# is still a sequence of paced deltas rather than one burst.
TEST_TOKENS_PER_SECOND = 2000


@pytest.fixture(scope="session")
def offline_upstream() -> Iterator[RunningUpstream]:
    # A delta of 1–3 tokens per event (not Claude's 70–200 ms rhythm, which at this pace
    # would send most replies in one event): tests see replies arrive in pieces.
    with RunningUpstream(tokens_per_second=TEST_TOKENS_PER_SECOND, event_ms="0") as running:
        yield running


@pytest.fixture
def upstream(offline_upstream: RunningUpstream) -> RunningUpstream:
    offline_upstream.reset()
    return offline_upstream


@pytest.fixture
async def sdk(upstream: RunningUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=upstream.base_url, api_key="test", max_retries=0
    ) as client:
        yield client


def user(content: str | list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: str | list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "assistant", "content": content}
