"""Content flags: what the content checks found in a reply or an uploaded text."""


from django.db import models

from chatapp.models.conversations import Message


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
