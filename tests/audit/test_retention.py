"""Retention: ``manage.py prune_audit`` deletes entries older than
CHATAPP_AUDIT_RETENTION_DAYS days and keeps the rest; 0 keeps everything."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chatapp.audit import retention
from chatapp.models import AuditAction, AuditEntry

pytestmark = pytest.mark.django_db


def entry_aged(days: float) -> AuditEntry:
    return AuditEntry.objects.create(created_at=timezone.now() - timedelta(days=days),
                                     action=AuditAction.SIGN_IN, actor_name=f"{days} days")


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_audit", *args, stdout=out)
    return out.getvalue().strip()


def test_entries_older_than_the_setting_are_pruned(settings):
    settings.CHATAPP_AUDIT_RETENTION_DAYS = 30
    entry_aged(400), entry_aged(31), entry_aged(30.5)
    kept = [entry_aged(29.9), entry_aged(1), entry_aged(0)]
    assert prune() == "Pruned 3 audit entries older than 30 days."
    assert set(AuditEntry.objects.values_list("id", flat=True)) == {e.pk for e in kept}
    assert prune() == "Pruned 0 audit entries older than 30 days."


def test_days_on_the_command_line_and_zero_keeps_everything(settings):
    settings.CHATAPP_AUDIT_RETENTION_DAYS = 0
    entry_aged(4000), entry_aged(10)
    assert prune() == "Audit entries are kept forever (retention 0): nothing pruned."
    assert AuditEntry.objects.count() == 2
    assert prune("--days", "5") == "Pruned 2 audit entries older than 5 days."
    with pytest.raises(CommandError):
        prune("--days", "-1")


def test_pruning_goes_a_batch_at_a_time():
    for _ in range(5):
        entry_aged(100)
    newest = entry_aged(1)
    assert AuditEntry.objects.prune_before(retention.cutoff(50), batch_size=2) == 5
    assert list(AuditEntry.objects.all()) == [newest]
