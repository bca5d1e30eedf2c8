"""Old audit entries pruned (``manage.py prune_audit``, which reads
``CHATAPP_AUDIT_RETENTION_DAYS``): those older than a number of days; 0 keeps every entry."""

from datetime import datetime, timedelta

from django.utils import timezone

from chatapp.models import AuditEntry


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def prune(days: int, now: datetime | None = None) -> int:
    """Delete the entries older than ``days``; how many went."""
    if days <= 0:
        return 0
    return AuditEntry.objects.prune_before(cutoff(days, now))
