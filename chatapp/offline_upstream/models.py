"""The model catalogue the offline upstream serves, as data.

Facts come from /work/shared/anthropic-api.md (context window, max output, image tier, minimum
cacheable prefix, thinking, lifecycle) and Anthropic's docs (preserved thinking, deprecations).
Where those are unsure or silent the value chosen here is noted.  `created_at` dates are
approximate: the offline upstream only needs them to give the newest-first order the real
`GET /v1/models` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Effort levels up to and including "high": where `disabled` (Haiku 5.5, Opus 5) and
# `between_tools` (Sonnet 5.5) are allowed.
UP_TO_HIGH = frozenset({"low", "medium", "high"})
ANY_EFFORT = frozenset(EFFORTS)


@dataclass(frozen=True)
class ThinkingRules:
    """What `thinking` a model takes, and what it does without one.

    `types` maps each accepted `thinking.type` to the efforts it is accepted at (a type absent
    from the map is a 400 on this model)."""

    types: dict[str, frozenset[str]]
    by_default: bool = False  # a request without `thinking` runs adaptive thinking
    default_effort: str = "high"
    default_display: str = "summarized"  # `omitted`: empty thinking text, signature only
    # Opus 5.5 / Sonnet 5.5: the text written between tool calls comes back in thinking blocks.
    text_between_tools_in_thinking: bool = False


def _rules(
    *types: str, limits: dict[str, frozenset[str]] | None = None, **rest: Any
) -> ThinkingRules:
    allowed = {kind: (limits or {}).get(kind, ANY_EFFORT) for kind in types}
    return ThinkingRules(types=allowed, **rest)


# One entry per thinking behaviour (the brief's table, issue 17 point 1).
OLD_BUDGET = _rules("enabled", "disabled")  # Haiku 4.5, Sonnet 4.5: budget thinking only
BUDGET_AND_EFFORT = _rules("enabled", "disabled")  # Opus 4.5 (effort, no adaptive)
ADAPTIVE_AND_BUDGET = _rules("adaptive", "enabled", "disabled", "between_tools")  # 4.6
ADAPTIVE_ONLY_47 = _rules("adaptive", "disabled", "between_tools")  # 4.7, 4.8: no budget
SONNET_5 = _rules("adaptive", "disabled", "between_tools", by_default=True,
                  default_display="omitted")
OPUS_5 = _rules("adaptive", "disabled", limits={"disabled": UP_TO_HIGH}, by_default=True,
                default_display="omitted")
HAIKU_5_5 = _rules("adaptive", "disabled", limits={"disabled": UP_TO_HIGH}, by_default=True,
                   default_effort="medium", default_display="omitted")
SONNET_5_5 = _rules("adaptive", "between_tools", limits={"between_tools": UP_TO_HIGH},
                    by_default=True, default_display="omitted",
                    text_between_tools_in_thinking=True)
OPUS_5_5 = _rules("adaptive", by_default=True, default_effort="medium",
                  default_display="omitted", text_between_tools_in_thinking=True)
FABLE = _rules("adaptive", by_default=True, default_display="omitted")


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
    thinking: ThinkingRules
    # Assistant prefill is rejected by the 4.6 generation and later models.
    accepts_prefill: bool
    # `temperature` is a 400 ("deprecated for this model") from Opus 4.7 on (under the old API
    # version; under 2026-10-21 no model takes sampling parameters).
    accepts_temperature: bool
    # max_tokens allowed in a batch sent with the long-output beta (else max_tokens).
    batch_max_tokens: int
    # `tool_choice` `any` or a named tool (a forced tool call) is a 400 on Opus 5.5,
    # Sonnet 5.5 and Fable 5.1.
    accepts_forced_tools: bool = True
    # Preserved thinking: thinking blocks sent back are checked against the model that made
    # them and their prefix.  `reads_thinking_of`: whose blocks (besides its own) it may read.
    preserved_thinking: bool = False
    reads_thinking_of: frozenset[str] = field(default_factory=frozenset)
    lifecycle: str = "active"
    deprecated_at: str | None = None
    retires_at: str | None = None

    @property
    def max_pdf_pages(self) -> int:
        """600 pages per request on 1M-context models, 100 otherwise."""
        return 600 if self.max_input_tokens >= 1_000_000 else 100

    @property
    def max_media(self) -> int:
        """Images + document pages per request: 100 on 200K-context models, 600 on others."""
        return self.max_pdf_pages

    @property
    def thinking_adaptive(self) -> bool:
        return "adaptive" in self.thinking.types

    @property
    def thinking_enabled(self) -> bool:
        return "enabled" in self.thinking.types

    @property
    def takes_effort(self) -> bool:
        """Effort came with Opus 4.5; Haiku 4.5 and Sonnet 4.5 have none."""
        return self.thinking is not OLD_BUDGET


def _spec(
    model_id: str,
    name: str,
    created: str,
    *,
    thinking: ThinkingRules,
    context: int = 1_000_000,
    max_out: int = 128_000,
    tier: str = "high",
    min_cache: int,
    new_tokenizer: bool = True,
    accepts_prefill: bool = False,
    long_output: bool = False,
    **rest: Any,
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
        thinking=thinking,
        accepts_prefill=accepts_prefill,
        accepts_temperature=not new_tokenizer,
        batch_max_tokens=LONG_OUTPUT_MAX_TOKENS if long_output else max_out,
        **rest,
    )


# Who reads whose thinking (docs, "Preserved thinking"): every model reads its own; Fable 5.1
# reads Opus 5's and (Claude API) Opus 5.5's, not the reverse; Haiku 5.5's blocks are not
# locked to it (any model reads them).  Fable 5.2 reading Fable 5.1's is our assumption.
FABLE_5_1_READS = frozenset({"claude-opus-5", "claude-opus-5-5"})
FABLE_5_2_READS = FABLE_5_1_READS | {"claude-fable-5-1"}
UNLOCKED_THINKING = frozenset({"claude-haiku-5-5"})
# Mid-conversation system messages (`role: "system"` in `messages`): Opus 4.8 and later.
SYSTEM_MESSAGE_MODELS = frozenset({
    "claude-fable-5-2", "claude-fable-5-1", "claude-opus-5-5", "claude-sonnet-5-5",
    "claude-haiku-5-5", "claude-opus-5", "claude-sonnet-5", "claude-opus-4-8",
})

# Newest first, the order `GET /v1/models` returns.
MODELS: tuple[ModelSpec, ...] = (
    # Fable 5.1 / 5.2: 1M context, 128K output (docs); image tier and minimum cacheable prefix
    # are not in the notes: high and 512 like the other 5.x models (our assumption).  Fable 5.2
    # takes forced tool choice (only 5.1 is named as refusing it).
    _spec("claude-fable-5-2", "Claude Fable 5.2", "2026-11-18T00:00:00Z", thinking=FABLE,
          min_cache=512, preserved_thinking=True, reads_thinking_of=FABLE_5_2_READS),
    _spec("claude-fable-5-1", "Claude Fable 5.1", "2026-09-01T00:00:00Z", thinking=FABLE,
          min_cache=512, preserved_thinking=True, reads_thinking_of=FABLE_5_1_READS,
          accepts_forced_tools=False),
    _spec("claude-opus-5-5", "Claude Opus 5.5", "2026-10-14T00:00:00Z", thinking=OPUS_5_5,
          min_cache=512, preserved_thinking=True, accepts_forced_tools=False),
    _spec("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-10-14T00:00:00Z", thinking=SONNET_5_5,
          min_cache=512, preserved_thinking=True, accepts_forced_tools=False),
    _spec("claude-haiku-5-5", "Claude Haiku 5.5", "2026-09-30T00:00:00Z", thinking=HAIKU_5_5,
          min_cache=512, preserved_thinking=True),
    _spec("claude-opus-5", "Claude Opus 5", "2026-08-05T00:00:00Z", thinking=OPUS_5,
          min_cache=512),
    _spec("claude-sonnet-5", "Claude Sonnet 5", "2026-08-05T00:00:00Z", thinking=SONNET_5,
          min_cache=1024),
    # Opus 4.8's minimum is marked "(?)" in the notes (1,024).
    # The long-output batch beta covers Opus 4.8, 4.7, 4.6 and Sonnet 4.6 (as announced).
    _spec("claude-opus-4-8", "Claude Opus 4.8", "2026-06-02T00:00:00Z", thinking=ADAPTIVE_ONLY_47,
          min_cache=1024, long_output=True),
    _spec("claude-opus-4-7", "Claude Opus 4.7", "2026-04-16T00:00:00Z", thinking=ADAPTIVE_ONLY_47,
          min_cache=2048, long_output=True),
    _spec("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z",
          thinking=ADAPTIVE_AND_BUDGET, tier="standard", min_cache=1024, new_tokenizer=False,
          long_output=True),
    _spec("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z",
          thinking=ADAPTIVE_AND_BUDGET, tier="standard", min_cache=4096, new_tokenizer=False,
          long_output=True),
    # Opus 4.5: deprecated 2026-11-23, retires 2027-01-22 (deprecations page).
    _spec("claude-opus-4-5", "Claude Opus 4.5", "2025-11-24T00:00:00Z", thinking=BUDGET_AND_EFFORT,
          context=200_000, max_out=64_000, tier="standard", min_cache=4096, new_tokenizer=False,
          accepts_prefill=True, lifecycle="deprecated", deprecated_at="2026-11-23T00:00:00Z",
          retires_at="2027-01-22T00:00:00Z"),
    _spec("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01T00:00:00Z", thinking=OLD_BUDGET,
          context=200_000, max_out=64_000, tier="standard", min_cache=4096,
          new_tokenizer=False, accepts_prefill=True),
    # Sonnet 4.5: retired 2026-11-30.  Its deprecation date is not in the notes: 2026-09-29 is
    # our assumption (60 days' notice at least).
    _spec("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z", thinking=OLD_BUDGET,
          context=200_000, max_out=64_000, tier="standard", min_cache=1024, new_tokenizer=False,
          accepts_prefill=True, lifecycle="retired", deprecated_at="2026-09-29T00:00:00Z",
          retires_at="2026-11-30T00:00:00Z"),
)

MODELS_BY_ID: dict[str, ModelSpec] = {model.id: model for model in MODELS}


def find_model(model_id: str) -> ModelSpec | None:
    """The catalogue entry for `model_id` (retired ones included), or None."""
    return MODELS_BY_ID.get(model_id)


def can_read_thinking(reader: ModelSpec, producer_id: str) -> bool:
    """Whether `reader` may use a thinking block `producer_id` made (else it is dropped)."""
    return (
        producer_id == reader.id
        or producer_id in reader.reads_thinking_of
        or producer_id in UNLOCKED_THINKING
    )


def _supported(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def _capabilities(model: ModelSpec) -> dict[str, Any]:
    """The `capabilities` object of a ModelInfo, every key present as the SDK expects."""
    effort = model.takes_effort
    types = model.thinking.types
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
            "types": {kind: _supported(kind in types)
                      for kind in ("adaptive", "between_tools", "disabled", "enabled")},
        },
    }


def model_info(model: ModelSpec) -> dict[str, Any]:
    """The wire form of one model, as `GET /v1/models/{id}` returns it."""
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": model.created_at,
        "lifecycle": model.lifecycle,
        "deprecated_at": model.deprecated_at,
        "retires_at": model.retires_at,
        "line": model.line,
        "max_input_tokens": model.max_input_tokens,
        "max_tokens": model.max_tokens,
        "capabilities": _capabilities(model),
    }
