"""The data chatapp keeps: conversations and their messages, the model catalog with its
prices, one usage record for every call that reached Claude (and its per-day sums), and the
monthly budgets with each user's spend.

Fields, constraints and small derived properties only: no network and no file I/O here.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce


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


def default_model_id() -> str:
    """The catalog id of the model used when none is chosen (a new conversation, a batch job,
    an estimate, an import naming an unknown model; what Auto is compared with). The one place
    ``CHATAPP_DEFAULT_MODEL`` is read, at call time so that a changed setting takes effect."""
    return settings.CHATAPP_DEFAULT_MODEL


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


class CacheTtl(models.TextChoices):
    AUTO = "auto", "Automatic"
    FIVE_MINUTES = "5m", "5 minutes"
    ONE_HOUR = "1h", "1 hour"


# ``Conversation.model`` when "Auto" in the model picker chooses the tier per message
# (chatapp/replies/model_router.py).
AUTO_MODEL = "auto"


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=100)
    system_prompt = models.TextField(blank=True)
    # The settings panel (chatapp/conversations/settings.py). None / "auto": the defaults, so a
    # change of CHATAPP_MAX_OUTPUT_TOKENS or of the TTL rule reaches conversations left alone.
    max_output_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="max_tokens of a reply (empty: the default), capped by "
        "the model's limit"
    )
    temperature = models.FloatField(
        null=True, blank=True, help_text="Kept from before API version 2026-10-21, which "
        "takes no temperature: never sent"
    )
    cache_ttl = models.CharField(max_length=4, choices=CacheTtl.choices, default=CacheTtl.AUTO)
    # Earlier turns summarised to fit the context window (chatapp/replies/compaction.py): the
    # summary
    # stands in for every message up to and including `summary_through`.
    summary = models.TextField(blank=True)
    summary_through = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The sidebar's filing (chatapp/conversations/filing.py): when it was pinned / archived, None
    # when not.
    # Neither touches updated_at, so a conversation keeps its place among the date groups.
    pinned_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conv_owner_recent")]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class PromptPreset(models.Model):
    """A reusable system prompt of one user, optionally with a model and a temperature."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompt_presets"
    )
    name = models.CharField(max_length=100)
    system_prompt = models.TextField(blank=True)
    # Empty / None: applying the preset leaves the conversation's own model / temperature.
    model = models.CharField(max_length=100, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="one_preset_name_per_user")
        ]

    def __str__(self) -> str:
        return self.name


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


class MessageQuerySet(models.QuerySet):
    """Reads of a conversation's messages by the branch on screen
    (chatapp/conversations/branches.py)."""

    def on_screen(self) -> "MessageQuerySet":
        """The messages of the branch on screen (not an older version, nor after one)."""
        return self.filter(superseded=False)

    def sent_before(self, reply_id: int, summary_through_id: int | None) -> "MessageQuerySet":
        """What a reply's request carries whole: the messages on screen before it, after
        any that were summarised (chatapp/replies/compaction.py), oldest first."""
        history = self.on_screen().filter(pk__lt=reply_id)
        if summary_through_id:
            history = history.filter(pk__gt=summary_through_id)
        return history.order_by("pk")


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
    # The message this one follows; None for the first. An edited question or a regenerated
    # reply is a sibling of the original (same parent), so versions form a tree
    # (chatapp/conversations/branches.py) and nothing stored is rewritten.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    # Not on the branch on screen: an older version, or a message after one. Exactly the
    # messages on the branch on screen have False, so "the history" stays one simple filter.
    superseded = models.BooleanField(default=False)
    stop_reason = models.CharField(max_length=40, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Attempts of this reply that broke off (error, partial text, request id); each one's
    # usage is billed in its own UsageRecord.
    attempts = models.JSONField(default=list, blank=True)
    # One-line notes shown with the reply: restarted, earlier turns summarised, routed, …
    notes = models.JSONField(default=list, blank=True)
    # What was asked for with this reply: thinking, automatic routing and the router's reason.
    options = models.JSONField(default=dict, blank=True)
    # The tokens this message adds to a prompt (count_tokens), counted once and kept.
    token_count = models.PositiveIntegerField(null=True, blank=True)
    # The API's id of this reply (msg_…): the next request names it for cache diagnostics.
    upstream_id = models.CharField(max_length=100, blank=True)
    # Why the prompt cache missed, as the API's diagnostics said (staff see it in the admin).
    cache_miss_reason = models.JSONField(null=True, blank=True)
    # What the content checks found in this reply, one entry per kind:
    # [{"kind", "action", "count"}]. The same findings are ContentFlag rows, for the admin.
    flag_summary = models.JSONField(default=list, blank=True)
    # The content before redaction or withholding, kept only when the deployment says so
    # (CHATAPP_CONTENT_KEEP_ORIGINALS); None otherwise.
    original_content = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MessageQuerySet.as_manager()

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


class AttachmentKind(models.TextChoices):
    DOCUMENT = "document", "Document"
    IMAGE = "image", "Image"


def attachment_path(instance: "Attachment", filename: str) -> str:
    """A generated name under MEDIA_ROOT: what the user called the file never becomes a path."""
    return f"attachments/{instance.owner_id}/{uuid.uuid4().hex}-{filename}"


class Attachment(models.Model):
    """A file a user gave to a conversation: a document or an image.

    Pending (no ``message``) while it waits in the composer; once sent it belongs to that user
    message and stays part of the conversation. Files live under MEDIA_ROOT with generated
    names and are served only through the owner's authorised view.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments"
    )
    # None for a document uploaded on the Batch jobs page, which belongs to no conversation.
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(max_length=10, choices=AttachmentKind.choices)
    # Shown to people only; never used as a path.
    name = models.CharField(max_length=255)
    # What Claude is sent (application/pdf, text/plain, image/jpeg, …) and what was uploaded.
    media_type = models.CharField(max_length=100)
    original_media_type = models.CharField(max_length=100)
    original = models.FileField(upload_to=attachment_path, max_length=255)
    # The bytes sent when they differ from the original (a resized image); else empty.
    prepared = models.FileField(upload_to=attachment_path, max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(help_text="Bytes of the original")
    pages = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    # A text document's text as sent; a PDF's extracted text (for reference only).
    text = models.TextField(blank=True)
    # What the content checks found in that text, as on a message: [{"kind", "action", "count"}].
    # Uploads are only ever flagged: the user's own file is sent as they gave it.
    flag_summary = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"], name="attachment_conv_order")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_pending(self) -> bool:
        return self.message_id is None


class CallPurpose(models.TextChoices):
    REPLY = "reply", "Reply"
    TITLE = "title", "Title"
    TOKEN_COUNT = "token_count", "Token count"
    SUMMARY = "summary", "Summary of earlier turns"
    ROUTING = "routing", "Model routing"
    BATCH = "batch", "Batch job item"


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
    web_search_requests = models.PositiveIntegerField(default=0)
    # Priced with the call, like cost_usd, so the cost review only has to add them up: the
    # cached tokens at the plain input price minus what they cost, and the batch discount.
    cache_savings_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True
    )
    batch_savings_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="usage_user_time"),
            models.Index(fields=["created_at"], name="usage_time"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} on {self.model} for {self.user_id}"


class Budget(models.Model):
    """A monthly spending limit in USD: one per user, and one without a user for everyone
    who has none of their own. Without either, spending is not limited."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="budget",
        help_text="Leave empty for the default that applies to everyone else",
    )
    monthly_usd = models.DecimalField(
        "monthly budget (USD)",
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
    )

    class Meta:
        constraints = [
            # A NULL user is the default; several NULLs would pass a plain unique constraint.
            models.UniqueConstraint(
                Coalesce("user", Value(0)),
                name="one_budget_per_user_and_one_default",
                violation_error_message="There is already a budget for this user "
                "(or already a default budget).",
            )
        ]

    def __str__(self) -> str:
        who = self.user.get_username() if self.user_id else "everyone (default)"
        return f"${self.monthly_usd} a month for {who}"


class MonthlySpend(models.Model):
    """A user's spend and open reservations in one calendar month (UTC).

    The row budget checks are made against: a reservation is one conditional UPDATE of it,
    so concurrent requests cannot together pass the budget.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="monthly_spend"
    )
    month = models.DateField(help_text="The first day of the month")
    spent_usd = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal(0))
    reserved_usd = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "month"], name="one_spend_row_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.month:%Y-%m}: ${self.spent_usd}"


class BudgetReservation(models.Model):
    """The worst-case cost of a call in flight, held against the budget until it settles."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()
    amount_usd = models.DecimalField(max_digits=14, decimal_places=8)
    created_at = models.DateTimeField(auto_now_add=True)
    # A batch job's reservation lives as long as the job (a day or more, across restarts):
    # it shrinks as its documents are answered, never freed as stale or at start-up.
    batch_job = models.OneToOneField(
        "BatchJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="reservation"
    )

    def __str__(self) -> str:
        return f"${self.amount_usd} held for {self.user_id}"


class FlagCategory(models.TextChoices):
    PERSONAL_DATA = "personal_data", "Personal data"
    DANGEROUS_CODE = "dangerous_code", "Dangerous code"
    UNCERTAINTY = "uncertainty", "Unsure of facts"


class FlagAction(models.TextChoices):
    FLAG = "flag", "Flagged"
    REDACT = "redact", "Redacted"
    WITHHOLD = "withhold", "Withheld"


class ContentFlag(models.Model):
    """One thing the content checks found in a reply (chatapp/safety/content_checks.py)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="content_flags")
    category = models.CharField(max_length=20, choices=FlagCategory.choices)
    kind = models.CharField(max_length=40, help_text="Which check found it, e.g. card_number")
    action = models.CharField(max_length=10, choices=FlagAction.choices)
    # The text that was found; left empty when it was redacted or withheld and the deployment
    # does not keep originals.
    excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["category", "created_at"], name="flag_category_time")]

    def __str__(self) -> str:
        return f"{self.kind} in message {self.message_id}"


class FlaggedMessage(Message):
    """Messages the content checks flagged: the admin's review list."""

    class Meta:
        proxy = True
        verbose_name = "flagged message"


class BatchJobStatus(models.TextChoices):
    SUBMITTING = "submitting", "Submitting"
    IN_PROGRESS = "in_progress", "In progress"
    CANCELLING = "cancelling", "Cancelling"
    ENDED = "ended", "Ended"


class BatchJob(models.Model):
    """Work that can wait: one prompt asked of many documents through the Message Batches API,
    at the batch price. Its items are sent as one or more ``MessageBatch``es."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batch_jobs"
    )
    prompt = models.TextField()
    model = models.CharField(max_length=100)
    max_tokens = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=BatchJobStatus.choices, default=BatchJobStatus.SUBMITTING
    )
    # A poller takes a job to submit for a while (a lease, not a lock: a poller that dies
    # lets go when its lease runs out, and another one carries on).
    submit_lease_until = models.DateTimeField(null=True, blank=True)
    submit_attempts = models.PositiveIntegerField(default=0)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="batchjob_owner_recent"),
            models.Index(fields=["status"], name="batchjob_status"),
        ]

    def __str__(self) -> str:
        return f"Batch job {self.pk}"


class MessageBatchStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    IN_PROGRESS = "in_progress", "In progress"
    CANCELING = "canceling", "Cancelling"
    ENDED = "ended", "Ended"
    FAILED = "failed", "Refused by the API"


class MessageBatch(models.Model):
    """One Message Batch at Anthropic. A job larger than the API's per-batch limits (request
    count or bytes) is split into several."""

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="batches")
    upstream_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    status = models.CharField(
        max_length=12, choices=MessageBatchStatus.choices, default=MessageBatchStatus.SENDING
    )
    long_output = models.BooleanField(default=False)
    request_counts = models.JSONField(default=dict, blank=True)
    cancel_sent = models.BooleanField(default=False)
    # Polled with backoff: the interval grows while nothing changes.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_interval_seconds = models.FloatField(default=0)
    results_recorded = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_poll_at"], name="msgbatch_due")]

    def __str__(self) -> str:
        return self.upstream_id or f"Message batch {self.pk} (not sent)"


class BatchItemStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    ERRORED = "errored", "Errored"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


def new_custom_id() -> str:
    """Unique across every job, so a result can only ever match its own item."""
    return f"item_{uuid.uuid4().hex}"


class BatchItem(UsageFields):
    """One document of a batch job: its request's custom_id, then its answer or error."""

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="items")
    batch = models.ForeignKey(
        MessageBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    document = models.ForeignKey(
        Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept for the results table and the CSV when the document is removed later.
    document_name = models.CharField(max_length=255)
    custom_id = models.CharField(max_length=64, unique=True, default=new_custom_id)
    status = models.CharField(
        max_length=12, choices=BatchItemStatus.choices, default=BatchItemStatus.PROCESSING
    )
    # The answer's content blocks, exactly as the API returned them.
    content = models.JSONField(default=list, blank=True)
    stop_reason = models.CharField(max_length=40, blank=True)
    upstream_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # This document's worst case, held in the job's budget reservation while it is processing.
    reserved_usd = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "status"], name="batchitem_job_status")]

    def __str__(self) -> str:
        return f"{self.document_name} in batch job {self.job_id}"

    @property
    def text(self) -> str:
        return "".join(
            block.get("text", "") for block in self.content if block.get("type") == "text"
        )


class DailyUsage(models.Model):
    """Usage records added up per UTC day and per everything the cost review groups by.

    Kept as each call is recorded (``accounting.record_call``), so the review reads a few
    thousand rows instead of every call. ``band_floor``: the largest price-band threshold
    the call's whole prompt exceeded, so tiered prices can be applied to the sums.
    """

    day = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=100)
    purpose = models.CharField(max_length=20, choices=CallPurpose.choices)
    is_batch = models.BooleanField(default=False)
    band_floor = models.PositiveIntegerField(default=0)
    # Calls to a model without a price have a row of their own, whose cost stays NULL.
    priced = models.BooleanField(default=True)
    requests = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_5m_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_1h_tokens = models.PositiveBigIntegerField(default=0)
    cache_read_tokens = models.PositiveBigIntegerField(default=0)
    web_search_requests = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    cache_savings_usd = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal(0))
    batch_savings_usd = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "user", "model", "purpose", "is_batch", "band_floor", "priced"],
                name="one_daily_usage_row",
            )
        ]
        verbose_name_plural = "daily usage"

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.model}"
