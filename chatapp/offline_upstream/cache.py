"""The prompt-cache model: what a request reads, what it writes, and how usage splits.

Rules (from the API documentation, see docs/offline-upstream.md):
- the prefix up to and including each breakpoint block is hashed (tools → system → messages);
- a lookup tries every breakpoint and up to LOOKBACK_BLOCKS blocks before it for a live entry;
  the longest prefix found is read;
- each breakpoint beyond the read prefix whose prefix reaches the model's minimum cacheable
  length is written with its own TTL; shorter prefixes are silently not cached;
- a hit refreshes the entry's TTL;
- usage: read = the read prefix; creation = the tokens between the read prefix and the last
  written breakpoint, each stretch attributed to the TTL of the breakpoint that ends it;
  input = everything after that.  input + creation + read = the whole prompt.
Entries are keyed by model and prefix hash and live in memory; time comes from an injectable
clock so tests can expire entries without sleeping.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .models import ModelSpec
from .prompt import PromptBlock

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
LOOKBACK_BLOCKS = 20
MAX_FINGERPRINTS = 10_000


class Clock:
    """Monotonic time that tests can move forward."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def reset(self) -> None:
        self._offset = 0.0


@dataclass
class CacheUsage:
    input_tokens: int
    cache_read_input_tokens: int = 0
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.ephemeral_5m_input_tokens + self.ephemeral_1h_input_tokens

    def as_usage(self) -> dict[str, Any]:
        """The input side of a Messages API `usage` object."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.ephemeral_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.ephemeral_1h_input_tokens,
            },
        }


@dataclass
class _Entry:
    expires_at: float
    ttl: str


def prefix_hashes(blocks: list[PromptBlock]) -> list[str]:
    """hashes[i] identifies the prefix blocks[0..i]: a chain, so any earlier change shows."""
    hashes: list[str] = []
    digest = b""
    for block in blocks:
        step = hashlib.sha256(digest)
        step.update(block.context.encode())
        step.update(b"\x00")
        step.update(block.canonical.encode())
        digest = step.digest()
        hashes.append(digest.hex())
    return hashes


def _cumulative(blocks: list[PromptBlock]) -> list[int]:
    totals, running = [], 0
    for block in blocks:
        running += block.tokens
        totals.append(running)
    return totals


class PromptCache:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def _live(self, key: tuple[str, str], now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            del self._entries[key]
            return None
        return entry

    def _longest_hit(
        self, model_id: str, hashes: list[str], points: list[tuple[int, str]], now: float
    ) -> int:
        """The index of the last block of the longest live cached prefix, or -1."""
        candidates = {
            index
            for point, _ttl in points
            for index in range(max(0, point - LOOKBACK_BLOCKS), point + 1)
        }
        for index in sorted(candidates, reverse=True):
            if self._live((model_id, hashes[index]), now):
                return index
        return -1

    def _refresh(self, key: tuple[str, str], ttl: str, now: float) -> None:
        entry = self._entries[key]
        if TTL_SECONDS[ttl] > TTL_SECONDS[entry.ttl]:
            entry.ttl = ttl
        entry.expires_at = now + TTL_SECONDS[entry.ttl]

    def account(
        self, model: ModelSpec, blocks: list[PromptBlock], points: list[tuple[int, str]]
    ) -> CacheUsage:
        """Look the request's prefixes up, refresh hits, write new entries, split the usage."""
        now = self.clock.now()
        hashes, totals = prefix_hashes(blocks), _cumulative(blocks)
        whole = totals[-1] if totals else 0
        read_at = self._longest_hit(model.id, hashes, points, now)
        usage = CacheUsage(input_tokens=0)
        if read_at >= 0:
            # "5m" never shortens an entry: a hit keeps the entry's own TTL and restarts it.
            self._refresh((model.id, hashes[read_at]), "5m", now)
            usage.cache_read_input_tokens = totals[read_at]
        covered = usage.cache_read_input_tokens
        for point, ttl in points:
            key = (model.id, hashes[point])
            if point <= read_at:
                if self._live(key, now):
                    self._refresh(key, ttl, now)
                continue
            if totals[point] < model.min_cache_tokens:
                continue  # too short to cache: silently not cached, billed as input
            self._entries[key] = _Entry(expires_at=now + TTL_SECONDS[ttl], ttl=ttl)
            written = totals[point] - covered
            if ttl == "1h":
                usage.ephemeral_1h_input_tokens += written
            else:
                usage.ephemeral_5m_input_tokens += written
            covered = totals[point]
        usage.input_tokens = whole - covered
        return usage


@dataclass
class Fingerprint:
    """What cache diagnostics compares between a request and the one before it."""

    model_id: str
    tools: str
    system: str
    messages: list[str]
    contexts: str
    cached_tokens: int

    @classmethod
    def of(cls, model_id: str, blocks: list[PromptBlock], usage: CacheUsage) -> Fingerprint:
        def digest(items: list[str]) -> str:
            return hashlib.sha256("\x00".join(items).encode()).hexdigest()

        per_message: dict[str, list[str]] = {}
        for block in blocks:
            if block.section == "messages":
                per_message.setdefault(block.path.split(".content.")[0], []).append(block.canonical)
        return cls(
            model_id=model_id,
            tools=digest([b.canonical for b in blocks if b.section == "tools"]),
            system=digest([b.canonical for b in blocks if b.section == "system"]),
            messages=[digest(items) for items in per_message.values()],
            contexts=digest(sorted({b.context for b in blocks})),
            cached_tokens=usage.cache_read_input_tokens + usage.cache_creation_input_tokens,
        )


@dataclass
class CacheDiagnostics:
    """Answers `diagnostics.previous_message_id` with a plausible `cache_miss_reason`."""

    _seen: OrderedDict[str, Fingerprint] = field(default_factory=OrderedDict)

    def clear(self) -> None:
        self._seen.clear()

    def remember(self, message_id: str, fingerprint: Fingerprint) -> None:
        self._seen[message_id] = fingerprint
        while len(self._seen) > MAX_FINGERPRINTS:
            self._seen.popitem(last=False)

    def explain(self, previous_id: str, current: Fingerprint) -> dict[str, Any] | None:
        """The `diagnostics` object, or None when nothing diverged."""
        previous = self._seen.get(previous_id)
        if previous is None:
            return {"cache_miss_reason": {"type": "previous_message_not_found"}}
        reason = _divergence(previous, current)
        if reason is None:
            return None
        if reason != "unavailable":
            missed = {"cache_missed_input_tokens": previous.cached_tokens}
            return {"cache_miss_reason": {"type": reason, **missed}}
        return {"cache_miss_reason": {"type": "unavailable"}}


def _divergence(previous: Fingerprint, current: Fingerprint) -> str | None:
    if previous.model_id != current.model_id:
        return "model_changed"
    if previous.tools != current.tools:
        return "tools_changed"
    if previous.system != current.system:
        return "system_changed"
    if current.messages[: len(previous.messages)] != previous.messages:
        return "messages_changed"
    if previous.contexts != current.contexts:
        return "unavailable"  # thinking, tool_choice or images changed: no finer diagnosis
    return None
