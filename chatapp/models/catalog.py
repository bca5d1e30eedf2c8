"""The model catalog: each Claude model we may call, with its facts and its prices by date."""

from decimal import Decimal

from django.db import models


class ModelTier(models.TextChoices):
    HAIKU = "haiku", "Haiku"
    SONNET = "sonnet", "Sonnet"
    OPUS = "opus", "Opus"


class ImageTier(models.TextChoices):
    STANDARD = "standard", "Standard (1568 px)"
    HIGH = "high", "High (2576 px)"


class ModelLifecycle(models.TextChoices):
    ACTIVE = "active", "Active"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


class ClaudeModel(models.Model):
    """One entry of the model catalog: facts about a model, editable by staff."""

    id = models.CharField(primary_key=True, max_length=100, help_text="The API's model id")
    display_name = models.CharField(max_length=100)
    tier = models.CharField(max_length=10, choices=ModelTier.choices)
    context_window = models.PositiveIntegerField()
    max_output_tokens = models.PositiveIntegerField()
    image_tier = models.CharField(max_length=10, choices=ImageTier.choices)
    min_cacheable_tokens = models.PositiveIntegerField(
        help_text="Shorter prompt prefixes are silently not cached by the API"
    )
    max_pdf_pages = models.PositiveIntegerField(
        default=100, help_text="PDF pages one request may carry (all its documents together)"
    )
    batch_max_output_tokens = models.PositiveIntegerField(
        default=0,
        help_text="max_tokens a batch request may ask for with the long-output beta "
        "(0: this model has no such beta; batches keep the interactive limit)",
    )
    capabilities = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True, help_text="Offered in the model picker")
    sort_order = models.PositiveSmallIntegerField(default=100)
    # As models.list() reports it (chatapp/runtime/catalog_sync.py): a deprecated model is marked in
    # the picker, a retired one is hidden and its conversations move to its successor.
    lifecycle = models.CharField(max_length=12, choices=ModelLifecycle.choices,
                                 default=ModelLifecycle.ACTIVE)
    deprecated_at = models.DateTimeField(null=True, blank=True)
    retires_at = models.DateTimeField(null=True, blank=True)
    successor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Where its conversations move when it is retired",
    )

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = "Claude model"

    def __str__(self) -> str:
        return self.display_name


class ModelPrice(models.Model):
    """USD per million tokens for one model from a date on.

    Each rate is its own column (cache reads are not always 0.1× input). A model billed by
    prompt size has one row per size band, distinguished by ``prompt_tokens_above``.
    """

    model = models.ForeignKey(ClaudeModel, on_delete=models.CASCADE, related_name="prices")
    effective_from = models.DateTimeField()
    prompt_tokens_above = models.PositiveIntegerField(
        default=0, help_text="This row applies when the whole prompt is larger than this"
    )
    input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    cache_write_5m_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    cache_write_1h_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    cache_read_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    batch_multiplier = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.5"),
        help_text="Batch requests cost this fraction of every rate",
    )
    web_search_per_thousand = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("10")
    )

    class Meta:
        ordering = ["model", "-effective_from", "prompt_tokens_above"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "effective_from", "prompt_tokens_above"],
                name="one_price_per_model_date_band",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_id} from {self.effective_from:%Y-%m-%d}"
