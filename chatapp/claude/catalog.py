"""Model facts and published prices as data (November 2026, see shared/anthropic-api.md).

The database catalog (``ClaudeModel``, ``ModelPrice``) is seeded from this table by a
migration and is then edited by staff in the admin; this module is never consulted at run
time for prices. ``sync_models`` reconciles the catalog with ``client.models.list()``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

SEED_PRICES_EFFECTIVE_FROM = datetime(2026, 1, 1, tzinfo=UTC)
# Sonnet 5.5's cache read fell from $0.20 to $0.10 per million on this day.
SONNET_55_READ_CUT = datetime(2026, 10, 7, tzinfo=UTC)


@dataclass(frozen=True)
class Rates:
    """USD per million tokens, in force from ``effective_from`` (usage before it is priced by
    the model's earlier row)."""

    input: str
    output: str
    cache_write_5m: str
    cache_write_1h: str
    cache_read: str
    prompt_tokens_above: int = 0
    effective_from: datetime = SEED_PRICES_EFFECTIVE_FROM


@dataclass(frozen=True)
class ModelFacts:
    id: str
    display_name: str
    tier: str
    context_window: int
    max_output_tokens: int
    image_tier: str
    min_cacheable_tokens: int
    rates: tuple[Rates, ...]
    capabilities: dict = field(default_factory=dict)
    # 600 PDF pages per request on 1M-context models, 100 on the others.
    max_pdf_pages: int = 600
    # max_tokens a batch request may ask for with the long-output beta; 0: no such beta.
    batch_max_output_tokens: int = 0
    lifecycle: str = "active"
    deprecated_at: datetime | None = None
    retires_at: datetime | None = None
    successor: str | None = None

    @property
    def is_active(self) -> bool:
        return self.lifecycle != "retired"


# Capabilities (``ClaudeModel.capabilities``; chatapp/claude/thinking.py reads the thinking keys):
# `thinking`: the thinking.type that turns thinking on ("adaptive" with output_config.effort,
#   or "enabled" with budget_tokens on models before 4.6; `enabled` is a 400 from Opus 4.7 on).
# `efforts`: the output_config.effort levels the model takes (xhigh from the 4.7 tokenizer on).
# `thinking_off`: how Off is sent. The 5.x models think by default under API version
#   2026-10-21: Haiku 5.5, Sonnet 5 and Opus 5 take {"type": "disabled"} (Opus 5 at effort high
#   or below: Off sends no effort, its default is high); Sonnet 5.5 rejects `disabled` and
#   takes {"type": "between_tools"}; Opus 5.5 and Fable 5.1/5.2 cannot turn thinking off
#   (Off is low effort). Older models think only when asked: "omit".
# `thinks_by_default`: a request without a `thinking` field thinks.
# `default_effort`: the API's effort when none is sent.
# `prefill`: the model accepts a final assistant message to continue from (a broken stream
#   goes on where it stopped); the 4.6 generation and later reject it.
# `fallback_model`: the model a refused reply may be retried on (Anthropic's refusals and
#   fallback page; chatapp's "Retry with …").
# `system_messages`: takes mid-conversation `role: "system"` messages (Opus 4.8 and later).
# No `temperature`: under API version 2026-10-21 (the SDK 2.x) no model takes one.
_ALL_EFFORTS = ["low", "medium", "high", "xhigh", "max"]
_NO_XHIGH = ["low", "medium", "high", "max"]
_COMMON = {"citations": True, "pdf_input": True}
_THINKS_BY_DEFAULT = {**_COMMON, "thinking": ["adaptive"], "efforts": _ALL_EFFORTS,
                      "thinks_by_default": True, "default_effort": "high", "prefill": False,
                      "system_messages": True}
_DISABLE = {**_THINKS_BY_DEFAULT, "thinking_off": "disabled"}
_ALWAYS_THINKS = {**_THINKS_BY_DEFAULT, "thinking_off": "low_effort"}
_ADAPTIVE_ON_REQUEST = {**_COMMON, "thinking": ["adaptive"], "efforts": _ALL_EFFORTS,
                        "thinking_off": "omit", "thinks_by_default": False,
                        "default_effort": "high", "prefill": False}
_ADAPTIVE_46 = {**_ADAPTIVE_ON_REQUEST, "efforts": _NO_XHIGH}
_BUDGET = {**_COMMON, "thinking": ["enabled"], "efforts": [], "thinking_off": "omit",
           "thinks_by_default": False, "prefill": True}

# The long-output batch beta (output-300k-2026-03-24), announced for Opus 4.8, 4.7, 4.6 and
# Sonnet 4.6; batches only.
LONG_OUTPUT = 300_000

_OPUS_5 = Rates("5", "25", "6.25", "10", "0.50")
_SONNET_46 = Rates("3", "15", "3.75", "6", "0.30")

SEED_MODELS: tuple[ModelFacts, ...] = (
    ModelFacts("claude-haiku-5-5", "Claude Haiku 5.5", "haiku", 1_000_000, 128_000, "high",
               512, (Rates("0.10", "0.50", "0.125", "0.20", "0.01"),
                     Rates("0.50", "2.50", "0.625", "1.00", "0.05", prompt_tokens_above=100_000)),
               {**_DISABLE, "default_effort": "medium", "fallback_model": "claude-haiku-4-5"}),
    ModelFacts("claude-haiku-4-5", "Claude Haiku 4.5", "haiku", 200_000, 64_000, "standard",
               4096, (Rates("1", "5", "1.25", "2", "0.10"),), _BUDGET, max_pdf_pages=100),
    ModelFacts("claude-sonnet-5-5", "Claude Sonnet 5.5", "sonnet", 1_000_000, 128_000, "high",
               512, (Rates("2", "10", "2.50", "4", "0.20"),
                     Rates("2", "10", "2.50", "4", "0.10", effective_from=SONNET_55_READ_CUT)),
               {**_THINKS_BY_DEFAULT, "thinking_off": "between_tools",
                "fallback_model": "claude-sonnet-4-6"}),
    ModelFacts("claude-sonnet-5", "Claude Sonnet 5", "sonnet", 1_000_000, 128_000, "high",
               1024, (Rates("2", "10", "2.50", "4", "0.20"),),
               {**_DISABLE, "fallback_model": "claude-sonnet-4-6"}),
    ModelFacts("claude-sonnet-4-6", "Claude Sonnet 4.6", "sonnet", 1_000_000, 128_000,
               "standard", 1024, (_SONNET_46,), _ADAPTIVE_46,
               batch_max_output_tokens=LONG_OUTPUT),
    ModelFacts("claude-opus-5-5", "Claude Opus 5.5", "opus", 1_000_000, 128_000, "high",
               512, (Rates("4", "20", "5", "8", "0.20"),),
               {**_ALWAYS_THINKS, "default_effort": "medium", "fallback_model": "claude-opus-4-8"}),
    ModelFacts("claude-opus-5", "Claude Opus 5", "opus", 1_000_000, 128_000, "high",
               512, (_OPUS_5,), {**_DISABLE, "fallback_model": "claude-opus-4-8"}),
    ModelFacts("claude-opus-4-8", "Claude Opus 4.8", "opus", 1_000_000, 128_000, "high",
               1024, (_OPUS_5,), {**_ADAPTIVE_ON_REQUEST, "system_messages": True},
               batch_max_output_tokens=LONG_OUTPUT),
    ModelFacts("claude-opus-4-7", "Claude Opus 4.7", "opus", 1_000_000, 128_000, "high",
               2048, (_OPUS_5,), _ADAPTIVE_ON_REQUEST, batch_max_output_tokens=LONG_OUTPUT),
    ModelFacts("claude-opus-4-6", "Claude Opus 4.6", "opus", 1_000_000, 128_000, "standard",
               4096, (_OPUS_5,), _ADAPTIVE_46, batch_max_output_tokens=LONG_OUTPUT),
    # Above Opus ("Mythos-class"); the catalog's top tier is Opus, so Auto never picks them
    # (they sort after the Opus models). Cache writes at 1.25× / 2× input, reads their own.
    ModelFacts("claude-fable-5-2", "Claude Fable 5.2", "opus", 1_000_000, 128_000, "high",
               512, (Rates("8", "40", "10", "16", "0.20"),), _ALWAYS_THINKS),
    ModelFacts("claude-fable-5-1", "Claude Fable 5.1", "opus", 1_000_000, 128_000, "high",
               512, (Rates("10", "50", "12.50", "20", "0.25"),), _ALWAYS_THINKS),
    # Deprecated and retired models: in the catalog for their lifecycle (the picker marks the
    # first, hides the second and moves its conversations to the successor).
    ModelFacts("claude-opus-4-5", "Claude Opus 4.5", "opus", 200_000, 64_000, "standard",
               4096, (_OPUS_5,), _BUDGET, max_pdf_pages=100, lifecycle="deprecated",
               deprecated_at=datetime(2026, 11, 23, tzinfo=UTC),
               retires_at=datetime(2027, 1, 22, tzinfo=UTC), successor="claude-opus-5-5"),
    ModelFacts("claude-sonnet-4-5", "Claude Sonnet 4.5", "sonnet", 200_000, 64_000, "standard",
               1024, (_SONNET_46, Rates("6", "22.50", "7.50", "12", "0.60",
                                        prompt_tokens_above=200_000)),
               _BUDGET, max_pdf_pages=100, lifecycle="retired",
               retires_at=datetime(2026, 11, 30, tzinfo=UTC), successor="claude-sonnet-5-5"),
)
SEED_BY_ID = {facts.id: facts for facts in SEED_MODELS}


def add_new_capabilities(model_cls) -> None:
    """Give catalog rows the capability keys added to the seed data since they were made
    (keys staff already set are left alone)."""
    for facts in SEED_MODELS:
        for model in model_cls.objects.filter(pk=facts.id):
            merged = {**facts.capabilities, **model.capabilities}
            if merged != model.capabilities:
                model.capabilities = merged
                model.save(update_fields=["capabilities"])


# Keys the seed states as API facts (corrected by a migration even if a row has other values);
# keys it no longer has: `effort` (now the `efforts` list) and `temperature` (no model takes
# one under API version 2026-10-21).
THINKING_KEYS = ("thinking", "efforts", "thinking_off", "thinks_by_default", "default_effort")
DROPPED_KEYS = ("effort", "temperature")


def retirement_note(retired_name: str, retired_on: datetime | None, successor_name: str) -> str:
    when = f" on {retired_on:%Y-%m-%d}" if retired_on else ""
    return f"{retired_name} was retired{when}: this conversation now uses {successor_name}."


def move_conversations(conversation_cls, message_cls, retired, successor) -> int:
    """Move the conversations of a retired model to its successor, with a note on each one's
    latest reply saying so; returns how many moved. (Model classes passed in: a migration
    calls it with its historical ones.)"""
    note = retirement_note(retired.display_name, retired.retires_at, successor.display_name)
    moved = list(conversation_cls.objects.filter(model=retired.pk).values_list("pk", flat=True))
    for conversation_id in moved:
        latest = (message_cls.objects.filter(conversation_id=conversation_id, role="assistant")
                  .order_by("-id").first())
        if latest is not None and note not in latest.notes:
            latest.notes = [*latest.notes, note]
            latest.save(update_fields=["notes"])
    conversation_cls.objects.filter(pk__in=moved).update(model=successor.pk)
    return len(moved)


def apply_current_facts(model_cls, price_cls, conversation_cls, message_cls) -> None:
    """Bring an existing catalog up to the seed data of December 2026: new models and price
    rows, the thinking capabilities, Haiku 5.5's cache minimum and image tier, lifecycles and
    successors (retired models switched off, their conversations moved)."""
    seed_catalog(model_cls, price_cls)
    # Sonnet 5.5 was seeded with today's $0.10 read from 2026-01-01: before the cut it was $0.20.
    price_cls.objects.filter(
        model_id="claude-sonnet-5-5", effective_from=SEED_PRICES_EFFECTIVE_FROM,
        cache_read_per_mtok=Decimal("0.10"),
    ).update(cache_read_per_mtok=Decimal("0.20"))
    model_cls.objects.filter(
        pk="claude-haiku-5-5", min_cacheable_tokens=4096, image_tier="standard"
    ).update(min_cacheable_tokens=512, image_tier="high")
    for facts in SEED_MODELS:
        model = model_cls.objects.filter(pk=facts.id).first()
        if model is None:
            continue
        kept = {k: v for k, v in model.capabilities.items() if k not in DROPPED_KEYS}
        model.capabilities = {
            **facts.capabilities, **kept,
            **{k: facts.capabilities[k] for k in THINKING_KEYS if k in facts.capabilities},
        }
        model.lifecycle = facts.lifecycle
        model.deprecated_at = facts.deprecated_at
        model.retires_at = facts.retires_at
        model.successor_id = model.successor_id or facts.successor
        model.is_active = model.is_active and facts.is_active
        model.save()
    for model in model_cls.objects.filter(lifecycle="retired", successor__isnull=False):
        move_conversations(conversation_cls, message_cls, model, model.successor)


def seed_catalog(model_cls, price_cls) -> None:
    """Insert the seed models and prices; rows that already exist are left as staff left them."""
    # An early migration runs this with the catalog's columns of its day: fill only those.
    known = {field.name for field in model_cls._meta.get_fields()}
    for order, facts in enumerate(SEED_MODELS):
        defaults = {
            "display_name": facts.display_name,
            "tier": facts.tier,
            "context_window": facts.context_window,
            "max_output_tokens": facts.max_output_tokens,
            "image_tier": facts.image_tier,
            "min_cacheable_tokens": facts.min_cacheable_tokens,
            "max_pdf_pages": facts.max_pdf_pages,
            "batch_max_output_tokens": facts.batch_max_output_tokens,
            "capabilities": facts.capabilities,
            "is_active": facts.is_active,
            "sort_order": order,
            "lifecycle": facts.lifecycle,
            "deprecated_at": facts.deprecated_at,
            "retires_at": facts.retires_at,
        }
        model, _ = model_cls.objects.get_or_create(
            id=facts.id, defaults={k: v for k, v in defaults.items() if k in known}
        )
        for rates in facts.rates:
            price_cls.objects.get_or_create(
                model=model,
                effective_from=rates.effective_from,
                prompt_tokens_above=rates.prompt_tokens_above,
                defaults={
                    "input_per_mtok": Decimal(rates.input),
                    "output_per_mtok": Decimal(rates.output),
                    "cache_write_5m_per_mtok": Decimal(rates.cache_write_5m),
                    "cache_write_1h_per_mtok": Decimal(rates.cache_write_1h),
                    "cache_read_per_mtok": Decimal(rates.cache_read),
                },
            )
    if "successor" in known:
        for facts in SEED_MODELS:
            if facts.successor:
                model_cls.objects.filter(pk=facts.id, successor__isnull=True).update(
                    successor_id=facts.successor
                )
