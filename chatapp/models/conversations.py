"""Conversations, their messages (a tree of versions: ``Message.parent``) and prompt presets."""


from django.conf import settings
from django.db import models

from chatapp.models.usage import UsageFields


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
    # The project it was started in (chatapp/projects/); kept as a plain conversation when the
    # project is deleted.
    project = models.ForeignKey(
        "chatapp.Project", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="conversations",
    )
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
