"""What staff see in the admin about messages' caches, users' attachments and sign-in links."""

import pytest
from django.test import Client

from chatapp.models import Attachment, Message, ProviderIdentity
from tests.factories import make_conversation, make_exchange, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_staff_see_why_a_replys_cache_missed(staff):
    conversation = make_conversation()
    _question, reply = make_exchange(conversation, "q", "a")
    Message.objects.filter(pk=reply.pk).update(
        cache_miss_reason={"type": "system_changed", "cache_missed_input_tokens": 51697}
    )
    listing = staff.get("/admin/chatapp/message/")
    assert "system_changed (51,697 tokens)" in listing.content.decode()
    missed_only = staff.get("/admin/chatapp/message/?cache_miss_reason__isempty=0")
    assert missed_only.status_code == 200 and f">{reply.pk}<" in missed_only.content.decode()


def test_attachments_are_listed_read_only(staff):
    conversation = make_conversation()
    attachment = Attachment.objects.create(
        owner=conversation.owner, conversation=conversation, kind="document", name="lease.pdf",
        media_type="application/pdf", original_media_type="application/pdf",
        original="attachments/1/x-original", sha256="0" * 64, size=1234, pages=3, tokens=3500,
    )
    assert "lease.pdf" in staff.get("/admin/chatapp/attachment/").content.decode()
    change = staff.get(f"/admin/chatapp/attachment/{attachment.pk}/change/")
    assert change.status_code == 200
    assert 'name="name"' not in change.content.decode()  # nothing to edit
    assert staff.get("/admin/chatapp/attachment/add/").status_code == 403


def test_a_budget_picks_its_user_by_name_not_by_id(staff):
    """The budget form searches users as you type (the admin's autocomplete), and the search
    finds them by username."""
    make_user("maria.legal")
    form = staff.get("/admin/chatapp/budget/add/").content.decode()
    assert 'class="admin-autocomplete' in form and "vForeignKeyRawIdAdminField" not in form
    found = staff.get("/admin/autocomplete/", {"term": "maria", "app_label": "chatapp",
                                               "model_name": "budget", "field_name": "user"})
    assert [r["text"] for r in found.json()["results"]] == ["maria.legal"]


def test_a_users_single_sign_on_link_is_shown_and_can_be_removed_not_typed_in(staff):
    user = make_user()
    ProviderIdentity.objects.create(user=user, issuer="https://id.example.com", subject="ab12")
    page = staff.get(f"/admin/auth/user/{user.pk}/change/").content.decode()
    assert "https://id.example.com" in page and "ab12" in page
    assert 'name="provider_identities-0-subject"' not in page  # read, never typed in
    assert 'name="provider_identities-0-DELETE"' in page
