"""A conversation's files: documents and images, stored with the turn they were sent in."""

import uuid

from django.conf import settings
from django.db import models

from chatapp.models.conversations import Conversation, Message
from chatapp.models.projects import Project


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
    # A project's document (chatapp/projects/): no conversation, no message.
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    # A project document removed while conversations started with it: kept for them (their
    # first question sends it, append-only), listed nowhere and sent to no new conversation.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
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
        constraints = [
            models.CheckConstraint(
                condition=models.Q(project__isnull=True) | models.Q(conversation__isnull=True),
                name="attachment_project_or_conversation",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_pending(self) -> bool:
        return self.message_id is None
