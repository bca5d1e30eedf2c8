"""Model facts and published prices as data (November 2026, see shared/anthropic-api.md).

The database catalog (``ClaudeModel``, ``ModelPrice``) is seeded from this table by a
migration and is then edited by staff in the admin; this module is never consulted at run
time for prices. ``sync_models`` reconciles the catalog with ``client.models.list()``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

SEED_PRICES_EFFECTIVE_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rates:
    """USD per million tokens."""

    input: str
    output: str
    cache_write_5m: str
    cache_write_1h: str
    cache_read: str
    prompt_tokens_above: int = 0


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


# `prefill`: the model accepts a final assistant message to continue from (a broken stream
# goes on where it stopped); the 4.6 generation and later reject it.
# `temperature`: the model accepts a sampling temperature (0–1). Opus 4.7 and everything
# after it (Sonnet 5, Haiku 5.5, …) answer a 400 "`temperature` is deprecated for this model";
# Haiku up to 4.5 and Sonnet and Opus up to 4.6 take one.
_ADAPTIVE = {"thinking": ["adaptive"], "effort": True, "citations": True, "pdf_input": True,
             "prefill": False, "temperature": False}
_ADAPTIVE_SAMPLED = {**_ADAPTIVE, "temperature": True}
_BUDGET = {"thinking": ["enabled"], "effort": False, "citations": True, "pdf_input": True,
           "prefill": True, "temperature": True}

# The long-output batch beta (output-300k-2026-03-24), announced for Opus 4.8, 4.7, 4.6 and
# Sonnet 4.6; batches only.
LONG_OUTPUT = 300_000

_OPUS_5 = Rates("5", "25", "6.25", "10", "0.50")
_SONNET_46 = Rates("3", "15", "3.75", "6", "0.30")

SEED_MODELS: tuple[ModelFacts, ...] = (
    ModelFacts("claude-haiku-5-5", "Claude Haiku 5.5", "haiku", 1_000_000, 128_000, "standard",
               4096, (Rates("0.10", "0.50", "0.125", "0.20", "0.01"),
                      Rates("0.50", "2.50", "0.625", "1.00", "0.05", prompt_tokens_above=100_000)),
               _ADAPTIVE),
    ModelFacts("claude-haiku-4-5", "Claude Haiku 4.5", "haiku", 200_000, 64_000, "standard",
               4096, (Rates("1", "5", "1.25", "2", "0.10"),), _BUDGET, max_pdf_pages=100),
    ModelFacts("claude-sonnet-5-5", "Claude Sonnet 5.5", "sonnet", 1_000_000, 128_000, "high",
               512, (Rates("2", "10", "2.50", "4", "0.10"),), _ADAPTIVE),
    ModelFacts("claude-sonnet-5", "Claude Sonnet 5", "sonnet", 1_000_000, 128_000, "high",
               1024, (Rates("2", "10", "2.50", "4", "0.20"),), _ADAPTIVE),
    ModelFacts("claude-sonnet-4-6", "Claude Sonnet 4.6", "sonnet", 1_000_000, 128_000,
               "standard", 1024, (_SONNET_46,), _ADAPTIVE_SAMPLED,
               batch_max_output_tokens=LONG_OUTPUT),
    ModelFacts("claude-opus-5-5", "Claude Opus 5.5", "opus", 1_000_000, 128_000, "high",
               512, (Rates("4", "20", "5", "8", "0.20"),), _ADAPTIVE),
    ModelFacts("claude-opus-5", "Claude Opus 5", "opus", 1_000_000, 128_000, "high",
               512, (_OPUS_5,), _ADAPTIVE),
    ModelFacts("claude-opus-4-8", "Claude Opus 4.8", "opus", 1_000_000, 128_000, "high",
               1024, (_OPUS_5,), _ADAPTIVE, batch_max_output_tokens=LONG_OUTPUT),
    ModelFacts("claude-opus-4-7", "Claude Opus 4.7", "opus", 1_000_000, 128_000, "high",
               2048, (_OPUS_5,), _ADAPTIVE, batch_max_output_tokens=LONG_OUTPUT),
    ModelFacts("claude-opus-4-6", "Claude Opus 4.6", "opus", 1_000_000, 128_000, "standard",
               4096, (_OPUS_5,), _ADAPTIVE_SAMPLED, batch_max_output_tokens=LONG_OUTPUT),
)


def add_new_capabilities(model_cls) -> None:
    """Give catalog rows the capability keys added to the seed data since they were made
    (keys staff already set are left alone)."""
    for facts in SEED_MODELS:
        for model in model_cls.objects.filter(pk=facts.id):
            merged = {**facts.capabilities, **model.capabilities}
            if merged != model.capabilities:
                model.capabilities = merged
                model.save(update_fields=["capabilities"])


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
            "sort_order": order,
        }
        model, _ = model_cls.objects.get_or_create(
            id=facts.id, defaults={k: v for k, v in defaults.items() if k in known}
        )
        for rates in facts.rates:
            price_cls.objects.get_or_create(
                model=model,
                effective_from=SEED_PRICES_EFFECTIVE_FROM,
                prompt_tokens_above=rates.prompt_tokens_above,
                defaults={
                    "input_per_mtok": Decimal(rates.input),
                    "output_per_mtok": Decimal(rates.output),
                    "cache_write_5m_per_mtok": Decimal(rates.cache_write_5m),
                    "cache_write_1h_per_mtok": Decimal(rates.cache_write_1h),
                    "cache_read_per_mtok": Decimal(rates.cache_read),
                },
            )
