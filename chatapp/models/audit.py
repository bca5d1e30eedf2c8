"""The audit log: an append-only record of who did what, when, from which address, to which
object (chatapp/audit/, docs/operations.md "Audit log").

Rows are only ever added: ``save()`` of a stored row, ``delete()`` and the queryset's ``update()``
and ``delete()`` raise. Only the retention command removes old rows
(``AuditEntry.objects.prune_before``).
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    """What an entry records. The stored value is the code; a new action needs no migration."""

    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    FILE_UPLOAD = "file.upload", "Uploaded a file"
    FILE_DOWNLOAD = "file.download", "Downloaded a file"
    FILE_DELETE = "file.delete", "Deleted a file"
    CONVERSATION_EXPORT = "conversation.export", "Exported a conversation"
    CONVERSATION_IMPORT = "conversation.import", "Imported a conversation"
    CONVERSATION_DELETE = "conversation.delete", "Deleted a conversation"
    PROJECT_SHARE = "project.share", "Shared a project"
    BATCH_JOB_CREATE = "batch_job.create", "Started a batch job"
    BATCH_JOB_CANCEL = "batch_job.cancel", "Cancelled a batch job"
    BATCH_JOB_DOWNLOAD = "batch_job.download", "Downloaded a batch job's results"
    ADMIN_ADD = "admin.add", "Added in the admin"
    ADMIN_CHANGE = "admin.change", "Changed in the admin"
    ADMIN_DELETE = "admin.delete", "Deleted in the admin"
    COST_DRILL_DOWN = "costs.drill_down", "Opened another user's costs"
    COST_EXPORT = "costs.export", "Downloaded a cost review CSV"
    AUDIT_EXPORT = "audit.export", "Downloaded the audit log"


class AppendOnlyError(RuntimeError):
    """An audit entry was to be changed or deleted: the log is append-only."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit entries cannot be deleted (only pruned by retention).")

    def prune_before(self, cutoff, batch_size: int = 5000) -> int:
        """Delete the entries older than ``cutoff``, a batch at a time; how many went."""
        removed = 0
        while True:
            ids = list(
                self.filter(created_at__lt=cutoff).order_by("id").values_list("id", flat=True)[
                    :batch_size
                ]
            )
            if not ids:
                return removed
            # The base manager's plain queryset deletes (this one's delete() refuses).
            count, _ = self.model._base_manager.filter(id__in=ids).delete()
            removed += count


class AuditEntry(models.Model):
    """One audited action. ``actor_name`` keeps the user name of the moment (and the name a
    failed sign-in tried), so an entry still says who once the user is gone."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    # The object acted on: "app_label.model", its primary key and what it was called then.
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(fields=["created_at"], name="audit_time"),
            models.Index(fields=["action", "created_at"], name="audit_action_time"),
            # "Everything about conversation 42"; the admin's object-type filter.
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        who = self.actor_name or "nobody"
        return f"{self.action} by {who} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries cannot be deleted (only pruned by retention).")

    @property
    def action_label(self) -> str:
        try:
            return AuditAction(self.action).label
        except ValueError:
            return self.action
