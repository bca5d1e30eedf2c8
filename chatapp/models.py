"""The data chatapp keeps: conversations and their messages, the model catalog with its
prices, and one usage record for every call that reached Claude.

Fields, constraints and small derived properties only: no network and no file I/O here.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models


class ModelTier(models.TextChoices):
    HAIKU = "haiku", "Haiku"
    SONNET = "sonnet", "Sonnet"
    OPUS = "opus", "Opus"


class ImageTier(models.TextChoices):
    STANDARD = "standard", "Standard (1568 px)"
    HIGH = "high", "High (2576 px)"


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
    capabilities = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True, help_text="Offered in the model picker")
    sort_order = models.PositiveSmallIntegerField(default=100)

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


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=100)
    system_prompt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conv_owner_recent")]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Role(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class MessageStatus(models.TextChoices):
    STREAMING = "streaming", "Streaming"
    COMPLETE = "complete", "Complete"
    CANCELLED = "cancelled", "Cancelled"
    ERROR = "error", "Error"
    INTERRUPTED = "interrupted", "Interrupted"


class UsageFields(models.Model):
    """Token counts as the API reports them, split the way they are priced."""

    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_write_5m_tokens = models.PositiveIntegerField(default=0)
    cache_write_1h_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    # None means "no price known for this model": unpriced, never silently zero.
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    cost_breakdown = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class Message(UsageFields):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    # The Messages API content blocks, exactly as sent or received.
    content = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.COMPLETE
    )
    model = models.CharField(max_length=100, blank=True)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    # A regenerated reply keeps its predecessor, hidden, rather than rewriting it.
    superseded = models.BooleanField(default=False)
    stop_reason = models.CharField(max_length=40, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["conversation", "id"], name="msg_conv_order"),
            models.Index(
                fields=["status"],
                name="msg_streaming",
                condition=models.Q(status="streaming"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk}"

    @property
    def text(self) -> str:
        return "".join(
            block.get("text", "") for block in self.content if block.get("type") == "text"
        )


class CallPurpose(models.TextChoices):
    REPLY = "reply", "Reply"
    TITLE = "title", "Title"
    TOKEN_COUNT = "token_count", "Token count"


class UsageRecord(UsageFields):
    """One call that reached Claude, priced when its usage arrived.

    Kept when its conversation is deleted: spend does not disappear with the chat.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_records"
    )
    purpose = models.CharField(max_length=20, choices=CallPurpose.choices)
    model = models.CharField(max_length=100)
    request_id = models.CharField(max_length=100, blank=True)
    is_batch = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="usage_user_time"),
            models.Index(fields=["created_at"], name="usage_time"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} on {self.model} for {self.user_id}"
