"""The audit log as CSV for a range of days: staff who may view it get it (200), anyone else
404, signed in or not; times are UTC, a typed name cannot become a spreadsheet formula."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from chatapp.models import AuditAction, AuditEntry
from tests.factories import make_conversation, make_user

pytestmark = pytest.mark.django_db

URL = "/api/audit/"
RANGE = {"from": "2026-11-02", "to": "2026-11-03", "format": "csv"}


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def logged():
    """Entries on 1, 2, 3 and 4 November (the range is the 2nd and 3rd, both whole)."""
    user = make_user("lena")
    conversation = make_conversation(user, title="Lease, \"final\"")
    rows = [
        AuditEntry.objects.create(created_at=at(1, 23, 59), action=AuditAction.SIGN_IN,
                                  actor=user, actor_name="lena", address="192.0.2.1"),
        AuditEntry.objects.create(created_at=at(2, 0, 0), action=AuditAction.SIGN_IN,
                                  actor=user, actor_name="lena", address="192.0.2.1"),
        AuditEntry.objects.create(created_at=at(3, 23, 59), action=AuditAction.CONVERSATION_DELETE,
                                  actor=user, actor_name="lena", address="2001:db8::1",
                                  target_type="chatapp.conversation",
                                  target_id=str(conversation.pk),
                                  target_repr=conversation.title),
        AuditEntry.objects.create(created_at=at(3, 8), action=AuditAction.SIGN_IN_FAILED,
                                  actor_name="=HYPERLINK(\"http://x\")", address="192.0.2.9",
                                  detail={"locked_out": True}),
        AuditEntry.objects.create(created_at=at(4, 0, 0), action=AuditAction.SIGN_OUT,
                                  actor=user, actor_name="lena"),
    ]
    return user, conversation, rows


def rows_of(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_staff_get_the_range_oldest_first_as_csv(logged):
    user, conversation, _ = logged
    staff = make_user("auditor", is_staff=True, is_superuser=True)
    response = client_for(staff).get(URL, RANGE)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="audit-2026-11-02-to-2026-11-03.csv"')
    got = rows_of(response)
    assert [r["time_utc"] for r in got] == [
        "2026-11-02T00:00:00Z", "2026-11-03T08:00:00Z", "2026-11-03T23:59:00Z"]
    assert got[0] == {
        "time_utc": "2026-11-02T00:00:00Z", "action": "sign_in", "description": "Signed in",
        "user": "lena", "user_id": str(user.pk), "address": "192.0.2.1", "object_type": "",
        "object_id": "", "object": "", "detail": "",
    }
    failed = got[1]
    assert failed["user"] == "'=HYPERLINK(\"http://x\")" and failed["user_id"] == ""
    assert failed["detail"] == '{"locked_out": true}'
    deleted = got[2]
    assert (deleted["action"], deleted["object_type"], deleted["object_id"], deleted["object"]) \
        == ("conversation.delete", "chatapp.conversation", str(conversation.pk),
            'Lease, "final"')
    assert deleted["address"] == "2001:db8::1"
    # The download itself is on the record.
    export = AuditEntry.objects.filter(action=AuditAction.AUDIT_EXPORT).get()
    assert export.actor == staff and export.detail == {"from": "2026-11-02", "to": "2026-11-03"}


def test_staff_with_only_the_view_permission_get_it_too(logged):
    reader = make_user("reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    assert client_for(reader).get(URL, RANGE).status_code == 200


@pytest.mark.parametrize("who", ["anonymous", "member", "staff without the permission",
                                 "superuser who is not staff"])
def test_anyone_else_gets_404(logged, who):
    user = {
        "anonymous": None,
        "member": make_user(),
        "staff without the permission": make_user(is_staff=True),
        "superuser who is not staff": make_user(is_superuser=True),
    }[who]
    client = client_for(user)  # signing in is an entry of its own
    before = AuditEntry.objects.count()
    response = client.get(URL, RANGE)
    assert response.status_code == 404 and response.json() == {"error": "Not found."}
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("query, message", [
    ({"from": "2026-11-31", "to": "2026-12-01"}, "“from” must be a date like 2026-11-30."),
    ({"from": "2026-11-05", "to": "2026-11-01"}, "“from” is after “to”."),
    ({"from": "2026-11-01", "to": "2026-11-02", "format": "json"}, "format must be csv."),
])
def test_a_bad_range_or_format_is_refused_in_plain_words(query, message):
    staff = make_user(is_staff=True, is_superuser=True)
    response = client_for(staff).get(URL, query)
    assert response.status_code == 400 and response.json() == {"error": message}
    assert not AuditEntry.objects.filter(action=AuditAction.AUDIT_EXPORT).exists()
