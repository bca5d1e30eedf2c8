"""Every change staff make in the admin is one audit entry (who, from where, which object, the
new values: never a password), through the real admin pages; the audit log itself is read only
there."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from chatapp.models import AuditAction, AuditEntry, Budget, ClaudeModel, Conversation
from tests.audit.forms import form_fields
from tests.factories import make_conversation, make_user

pytestmark = pytest.mark.django_db

ADDRESS = "192.0.2.44"


@pytest.fixture
def admin_user():
    return make_user("boss", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(admin_user) -> Client:
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(admin_user)
    return client


def admin_entries(after: int = 0) -> list[AuditEntry]:
    """Entries other than sign-ins, oldest first."""
    return list(AuditEntry.objects.filter(id__gt=after, action__startswith="admin.")
                .order_by("id"))


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def submit(client: Client, url: str, form_id: str, **changes) -> None:
    """The form as the page shows it, with ``changes``, posted as a browser would."""
    fields = form_fields(client.get(url).content.decode(), form_id)
    fields.update({name: [value] for name, value in changes.items()})
    response = client.post(url, fields)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_adding_changing_and_deleting_a_budget_are_one_entry_each(staff, admin_user):
    member = make_user("carol")
    response = staff.post("/admin/chatapp/budget/add/",
                          {"user": member.pk, "monthly_usd": "50.00"})
    assert response.status_code == 302
    budget = Budget.objects.get(user=member)
    [added] = admin_entries()
    assert added.action == AuditAction.ADMIN_ADD
    assert (added.actor, added.actor_name, added.address) == (admin_user, "boss", ADDRESS)
    assert (added.target_type, added.target_id) == ("chatapp.budget", str(budget.pk))
    assert added.target_repr == "$50.00 a month for carol"
    assert added.detail["values"] == {"user": "carol", "monthly_usd": "50.00"}

    marker = last_id()
    submit(staff, f"/admin/chatapp/budget/{budget.pk}/change/", "budget_form",
           monthly_usd="75.00")
    [changed] = admin_entries(marker)
    assert changed.action == AuditAction.ADMIN_CHANGE and changed.target_id == str(budget.pk)
    assert changed.detail["values"] == {"monthly_usd": "75.00"}
    assert changed.detail["changes"] == [{"changed": {"fields": ["Monthly budget (USD)"]}}]

    marker = last_id()
    response = staff.post(f"/admin/chatapp/budget/{budget.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Budget.objects.exists()
    [deleted] = admin_entries(marker)
    assert deleted.action == AuditAction.ADMIN_DELETE
    assert (deleted.target_type, deleted.target_id) == ("chatapp.budget", str(budget.pk))
    assert deleted.target_repr == "$75.00 a month for carol" and deleted.address == ADDRESS


def test_a_price_changed_through_its_model_is_one_entry_with_the_new_rate(staff):
    model = ClaudeModel.objects.get(pk="claude-sonnet-4-6")
    price = model.prices.order_by("effective_from", "prompt_tokens_above").first()
    url = f"/admin/chatapp/claudemodel/{model.pk}/change/"
    fields = form_fields(staff.get(url).content.decode(), "claudemodel_form")
    row = next(name.split("-")[1] for name, values in fields.items()
               if name.startswith("prices-") and name.endswith("-id") and values == [str(price.pk)])
    marker = last_id()
    submit(staff, url, "claudemodel_form", **{f"prices-{row}-input_per_mtok": "2.5"})
    price.refresh_from_db()
    assert price.input_per_mtok == Decimal("2.5")
    [changed] = admin_entries(marker)
    assert changed.action == AuditAction.ADMIN_CHANGE
    assert (changed.target_type, changed.target_id) == ("chatapp.claudemodel", model.pk)
    assert changed.detail["inlines"] == [{
        "model": "model price", "object": str(price), "values": {"input_per_mtok": "2.5"},
    }]
    assert changed.detail["changes"][0]["changed"]["name"] == "model price"


def test_a_model_switched_off_in_the_list_is_one_entry(staff):
    url = "/admin/chatapp/claudemodel/"
    fields = form_fields(staff.get(url).content.decode(), "changelist-form")
    row = next(name.split("-")[1] for name, values in fields.items()
               if name.endswith("-id") and values == ["claude-haiku-4-5"])
    fields.pop(f"form-{row}-is_active")  # an unticked box is not sent
    fields["_save"] = ["Save"]
    marker = last_id()
    assert staff.post(url, fields).status_code == 302
    assert not ClaudeModel.objects.get(pk="claude-haiku-4-5").is_active
    [changed] = admin_entries(marker)
    assert changed.target_id == "claude-haiku-4-5" and changed.detail["values"] == {
        "is_active": False}


def test_users_and_groups_are_audited_and_no_password_is_written(staff):
    response = staff.post("/admin/auth/user/add/", {
        "username": "dave", "password1": "a long new passphrase 42",
        "password2": "a long new passphrase 42", "usable_password": "true",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    dave = get_user_model().objects.get(username="dave")
    [added] = admin_entries()
    assert added.action == AuditAction.ADMIN_ADD and added.target_type == "auth.user"
    assert added.target_id == str(dave.pk) and added.target_repr == "dave"
    assert "passphrase" not in str(added.detail) and "password" not in added.detail["values"]

    marker = last_id()
    response = staff.post(f"/admin/auth/user/{dave.pk}/password/", {
        "password1": "another passphrase 43", "password2": "another passphrase 43",
    })
    assert response.status_code == 302
    [changed] = admin_entries(marker)
    assert changed.action == AuditAction.ADMIN_CHANGE and changed.target_id == str(dave.pk)
    assert "passphrase" not in str(changed.detail) and changed.detail["values"] == {}

    marker = last_id()
    legal = Permission.objects.get(codename="view_usagerecord")
    no_policy = {"policy-TOTAL_FORMS": 0, "policy-INITIAL_FORMS": 0}  # the inline, left empty
    assert staff.post("/admin/auth/group/add/",
                      {"name": "legal", "permissions": [legal.pk], **no_policy}).status_code == 302
    [group] = admin_entries(marker)
    assert group.action == AuditAction.ADMIN_ADD and group.target_type == "auth.group"
    assert group.target_id == str(Group.objects.get(name="legal").pk)
    assert group.detail["values"] == {"name": "legal", "permissions": [str(legal)]}


def test_deleting_selected_conversations_is_one_entry_each(staff):
    conversations = [make_conversation(title=f"Lease {n}") for n in range(2)]
    marker = last_id()
    response = staff.post("/admin/chatapp/conversation/", {
        "action": "delete_selected", "post": "yes",
        "_selected_action": [c.pk for c in conversations],
    })
    assert response.status_code == 302 and not Conversation.objects.exists()
    deleted = admin_entries(marker)
    assert sorted((e.action, e.target_id, e.target_repr) for e in deleted) == [
        (AuditAction.ADMIN_DELETE, str(c.pk), c.title) for c in conversations
    ]


def test_audit_entries_are_read_only_in_the_admin(staff, admin_user):
    entry = AuditEntry.objects.create(action=AuditAction.SIGN_IN, actor_name="carol",
                                      address="203.0.113.9")
    listing = staff.get("/admin/chatapp/auditentry/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "carol" in page and "203.0.113.9" in page and "/api/audit/" in page
    assert "delete_selected" not in page  # no bulk deletion offered
    for query in ({"action": "sign_in"}, {"q": "203.0.113"}, {"q": "carol"},
                  {"created_at__year": entry.created_at.year}):
        filtered = staff.get("/admin/chatapp/auditentry/", query)
        assert filtered.status_code == 200 and "carol" in filtered.content.decode(), query
    for query in ({"action": "sign_out"}, {"target_type": "chatapp.budget"},
                  {"actor__id__exact": admin_user.pk}):
        filtered = staff.get("/admin/chatapp/auditentry/", query)
        assert filtered.status_code == 200 and "carol" not in filtered.content.decode(), query

    change_url = f"/admin/chatapp/auditentry/{entry.pk}/change/"
    detail = staff.get(change_url)
    assert detail.status_code == 200 and 'name="actor_name"' not in detail.content.decode()
    assert staff.post(change_url, {"actor_name": "mallory"}).status_code == 403
    assert staff.post(f"/admin/chatapp/auditentry/{entry.pk}/delete/",
                      {"post": "yes"}).status_code == 403
    assert staff.post("/admin/chatapp/auditentry/", {
        "action": "delete_selected", "post": "yes", "_selected_action": [entry.pk],
    }).status_code in (200, 302)
    assert staff.get("/admin/chatapp/auditentry/add/").status_code == 403
    entry.refresh_from_db()
    assert entry.actor_name == "carol"


def test_usage_records_and_flags_are_read_only_too(staff):
    assert staff.get("/admin/chatapp/usagerecord/add/").status_code == 403
    page = staff.get("/admin/chatapp/usagerecord/").content.decode()
    assert "delete_selected" not in page
    flags = staff.get("/admin/chatapp/flaggedmessage/").content.decode()
    assert "delete_selected" not in flags


def test_the_admin_is_this_products(staff):
    page = staff.get("/admin/").content.decode()
    assert "chatapp administration" in page and "Django administration" not in page
    assert "<title>Workspace administration | chatapp admin</title>" in page
