"""Old audit entries pruned (``manage.py prune_audit``): those older than
``CHATAPP_AUDIT_RETENTION_DAYS`` days; 0 keeps every entry."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from chatapp.models import AuditEntry


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def prune(days: int | None = None, now: datetime | None = None) -> int:
    """Delete the entries older than ``days`` (default: the setting); how many went."""
    days = settings.CHATAPP_AUDIT_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    return AuditEntry.objects.prune_before(cutoff(days, now))
