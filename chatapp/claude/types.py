"""Our own vocabulary for talking about Claude calls; free of SDK types."""

from dataclasses import dataclass, field
from typing import Any

from chatapp.errors import ChatappError


@dataclass
class Usage:
    """Token counts of one call, split the way they are priced."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    thinking_tokens: int = 0
    web_search_requests: int = 0
    # True when output_tokens was estimated because the stream ended before the API said.
    estimated: bool = False

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def prompt_tokens(self) -> int:
        """The whole prompt: what tiered pricing looks at."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_5m_tokens": self.cache_write_5m_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
            "cache_read_tokens": self.cache_read_tokens,
        }

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_write_5m_tokens=self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            thinking_tokens=self.thinking_tokens + other.thinking_tokens,
            web_search_requests=self.web_search_requests + other.web_search_requests,
            estimated=self.estimated or other.estimated,
        )


@dataclass
class TextDelta:
    """More text of the reply."""

    text: str


@dataclass
class ThinkingDelta:
    """More of the model's visible thinking (summarised thinking, as the API streams it)."""

    text: str


@dataclass
class ToolUseStarted:
    """The model began writing a tool call; its input follows and is complete at the end."""

    id: str
    name: str


@dataclass
class StreamStarted:
    """The upstream accepted the request; input-side usage is known."""

    message_id: str
    model: str
    request_id: str
    usage: Usage
    # Where the prompt cache diverged from the request named in `diagnostics`, if it did.
    cache_miss_reason: dict[str, Any] | None = None


@dataclass
class StreamFinished:
    """The reply ended normally (whatever its stop reason)."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage
    stop_details: dict[str, Any] | None = None


StreamEvent = TextDelta | ThinkingDelta | ToolUseStarted | StreamStarted | StreamFinished


@dataclass
class Completion:
    """A whole, non-streamed reply (titles, summaries)."""

    text: str
    model: str
    stop_reason: str
    request_id: str
    usage: Usage


@dataclass
class UpstreamError(ChatappError):
    """The Messages API failed us. ``code`` is one of the protocol's error codes; ``status``
    the API's HTTP status, where it answered (ours, to a JSON endpoint: ``http_status``)."""

    http_status = 502

    code: str  # given first, always (the base's default would otherwise stand)
    message: str = ""
    status: int | None = None
    request_id: str = ""
    retryable: bool = False
    # What the stream had produced before it failed (content blocks so far, usage so far).
    partial_content: list[dict[str, Any]] = field(default_factory=list)
    partial_usage: Usage | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
