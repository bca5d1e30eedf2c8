"""Batch jobs: one prompt asked of many documents, their Message Batches and items."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models

from chatapp.models.attachments import Attachment
from chatapp.models.usage import UsageFields


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
