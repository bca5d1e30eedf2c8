"""The model catalogue the offline upstream serves, as data.

Facts come from /work/shared/anthropic-api.md (context window, max output, image tier, minimum
cacheable prefix).  Where that table is unsure or silent the value chosen here is noted.
`created_at` dates are approximate: the offline upstream only needs them to give the newest-first
order the real `GET /v1/models` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Standard tier models downscale to 1568 px on the long edge (~1.15 MP); high tier to 2576 px
# (~3.75 MP).  The token caps are the per-image maxima the API documents for each tier.
IMAGE_TIERS: dict[str, dict[str, int]] = {
    "standard": {"max_edge": 1568, "max_pixels": 1_150_000, "max_tokens": 1568},
    "high": {"max_edge": 2576, "max_pixels": 3_750_000, "max_tokens": 4784},
}

# The long-output beta (`anthropic-beta: output-300k-2026-03-24`) lifts max_tokens to this on
# the Message Batches API only, for the models marked `long_output` below.
LONG_OUTPUT_BETA = "output-300k-2026-03-24"
LONG_OUTPUT_MAX_TOKENS = 300_000

# Models from 4.7 on use a tokenizer that yields ~30% more tokens for the same text: we model it
# as 3 characters per token instead of 4.
OLD_TOKENIZER_CHARS = 4
NEW_TOKENIZER_CHARS = 3


@dataclass(frozen=True)
class ModelSpec:
    id: str
    display_name: str
    created_at: str
    line: str
    max_input_tokens: int
    max_tokens: int
    image_tier: str
    min_cache_tokens: int
    chars_per_token: int
    # `thinking: {"type": "enabled", "budget_tokens": N}` is a 400 from 4.7 on.
    thinking_enabled: bool
    # Adaptive thinking arrived with the 4.6 generation; Haiku 4.5 predates it.
    thinking_adaptive: bool
    # Assistant prefill is rejected by the 4.6 generation and later models.
    accepts_prefill: bool
    # `temperature` is a 400 ("deprecated for this model") from Opus 4.7 on, like budget
    # thinking: Haiku up to 4.5 and Sonnet and Opus up to 4.6 still take one.
    accepts_temperature: bool
    # max_tokens allowed in a batch sent with the long-output beta (else max_tokens).
    batch_max_tokens: int

    @property
    def max_pdf_pages(self) -> int:
        """600 pages per request on 1M-context models, 100 otherwise."""
        return 600 if self.max_input_tokens >= 1_000_000 else 100


def _spec(
    model_id: str,
    name: str,
    created: str,
    *,
    context: int = 1_000_000,
    max_out: int = 128_000,
    tier: str = "high",
    min_cache: int,
    new_tokenizer: bool = True,
    accepts_prefill: bool = False,
    long_output: bool = False,
) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        display_name=name,
        created_at=created,
        line=model_id.split("-")[1],
        max_input_tokens=context,
        max_tokens=max_out,
        image_tier=tier,
        min_cache_tokens=min_cache,
        chars_per_token=NEW_TOKENIZER_CHARS if new_tokenizer else OLD_TOKENIZER_CHARS,
        thinking_enabled=not new_tokenizer,
        thinking_adaptive=model_id != "claude-haiku-4-5",
        accepts_prefill=accepts_prefill,
        accepts_temperature=not new_tokenizer,
        batch_max_tokens=LONG_OUTPUT_MAX_TOKENS if long_output else max_out,
    )


# Newest first, the order `GET /v1/models` returns.
MODELS: tuple[ModelSpec, ...] = (
    _spec("claude-opus-5-5", "Claude Opus 5.5", "2026-10-14T00:00:00Z", min_cache=512),
    _spec("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-10-14T00:00:00Z", min_cache=512),
    # Haiku 5.5's minimum is "unknown" in the API notes: 2,048 is our assumption.
    _spec(
        "claude-haiku-5-5", "Claude Haiku 5.5", "2026-09-30T00:00:00Z",
        tier="standard", min_cache=2048,
    ),
    _spec("claude-opus-5", "Claude Opus 5", "2026-08-05T00:00:00Z", min_cache=512),
    _spec("claude-sonnet-5", "Claude Sonnet 5", "2026-08-05T00:00:00Z", min_cache=1024),
    # Opus 4.8's minimum is marked "(?)" in the notes (1,024).
    # The long-output batch beta covers Opus 4.8, 4.7, 4.6 and Sonnet 4.6 (as announced).
    _spec(
        "claude-opus-4-8", "Claude Opus 4.8", "2026-06-02T00:00:00Z", min_cache=1024,
        long_output=True,
    ),
    _spec(
        "claude-opus-4-7", "Claude Opus 4.7", "2026-04-16T00:00:00Z", min_cache=2048,
        long_output=True,
    ),
    _spec(
        "claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z",
        tier="standard", min_cache=1024, new_tokenizer=False, long_output=True,
    ),
    _spec(
        "claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z",
        tier="standard", min_cache=4096, new_tokenizer=False, long_output=True,
    ),
    _spec(
        "claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01T00:00:00Z",
        context=200_000, max_out=64_000, tier="standard", min_cache=4096,
        new_tokenizer=False, accepts_prefill=True,
    ),
)

MODELS_BY_ID: dict[str, ModelSpec] = {model.id: model for model in MODELS}


def find_model(model_id: str) -> ModelSpec | None:
    """The catalogue entry for `model_id`, or None when the upstream does not serve it."""
    return MODELS_BY_ID.get(model_id)


def _supported(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def _capabilities(model: ModelSpec) -> dict[str, Any]:
    """The `capabilities` object of a ModelInfo, every key present as the SDK expects."""
    effort = model.thinking_adaptive
    return {
        "batch": _supported(True),
        "citations": _supported(True),
        "code_execution": _supported(True),
        "context_management": {
            "supported": True,
            "clear_thinking_20251015": _supported(True),
            "clear_tool_uses_20250919": _supported(True),
            "compact_20260112": _supported(model.max_input_tokens >= 1_000_000),
        },
        "effort": {
            "supported": effort,
            "low": _supported(effort),
            "medium": _supported(effort),
            "high": _supported(effort),
            "max": _supported(effort),
            "xhigh": _supported(effort and model.chars_per_token == NEW_TOKENIZER_CHARS),
        },
        "image_input": _supported(True),
        "pdf_input": _supported(True),
        "server_tools": {
            "supported": True,
            "code_execution": _supported(True),
            "web_search": _supported(True),
        },
        "structured_outputs": _supported(True),
        "thinking": {
            "supported": True,
            "types": {
                "adaptive": _supported(model.thinking_adaptive),
                "between_tools": _supported(model.thinking_adaptive),
                "disabled": _supported(True),
                "enabled": _supported(model.thinking_enabled),
            },
        },
    }


def model_info(model: ModelSpec) -> dict[str, Any]:
    """The wire form of one model, as `GET /v1/models/{id}` returns it."""
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": model.created_at,
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "line": model.line,
        "max_input_tokens": model.max_input_tokens,
        "max_tokens": model.max_tokens,
        "capabilities": _capabilities(model),
    }
