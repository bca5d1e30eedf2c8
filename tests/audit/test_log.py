"""Each audited action at the edges writes exactly one entry (who, what, from which address,
which object); refusals write none; the entries cannot be changed or deleted; and a streamed
reply writes none at all."""

import json

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chatapp import audit
from chatapp.models import (
    AppendOnlyError,
    AuditAction,
    AuditEntry,
    BatchJob,
    Conversation,
)
from tests.factories import make_conversation, make_exchange, make_text_document, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

ADDRESS = "198.51.100.23"
MODEL = "claude-sonnet-4-6"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def client_for(user) -> Client:
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(user)  # a sign-in entry of its own
    return client


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def written_since(marker: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=marker).order_by("id"))


def the_one_entry(marker: int, action: AuditAction, user, target_type: str,
                  target_id) -> AuditEntry:
    [entry] = written_since(marker)
    assert entry.action == action
    assert (entry.actor, entry.actor_name, entry.address) == (user, user.username, ADDRESS)
    assert (entry.target_type, entry.target_id) == (target_type, str(target_id))
    return entry


@pytest.mark.django_db
def test_deleting_a_conversation_is_one_entry_and_a_strangers_attempt_none():
    owner = make_user()
    conversation = make_conversation(owner, title="Lease for Elm Street")
    stranger = client_for(make_user())
    marker = last_id()
    assert stranger.delete(f"/api/conversations/{conversation.pk}/").status_code == 404
    assert written_since(marker) == []

    client = client_for(owner)
    marker = last_id()
    assert client.delete(f"/api/conversations/{conversation.pk}/").status_code == 204
    assert not Conversation.objects.exists()
    entry = the_one_entry(marker, AuditAction.CONVERSATION_DELETE, owner,
                          "chatapp.conversation", conversation.pk)
    assert entry.target_repr == "Lease for Elm Street"


@pytest.mark.django_db
def test_an_export_and_an_import_are_one_entry_each():
    owner = make_user()
    conversation = make_conversation(owner, title="Rent")
    make_exchange(conversation, "Who pays?", "The tenant.")
    client = client_for(owner)
    marker = last_id()
    exported = client.get(f"/api/conversations/{conversation.pk}/export/", {"format": "json"})
    assert exported.status_code == 200
    entry = the_one_entry(marker, AuditAction.CONVERSATION_EXPORT, owner,
                          "chatapp.conversation", conversation.pk)
    assert entry.detail == {"format": "json"}

    marker = last_id()
    imported = client.post("/api/conversations/import/", exported.content,
                           content_type="application/json")
    assert imported.status_code == 201
    entry = the_one_entry(marker, AuditAction.CONVERSATION_IMPORT, owner,
                          "chatapp.conversation", imported.json()["id"])
    assert entry.detail == {"bytes": len(exported.content)}

    marker = last_id()
    refused = client.post("/api/conversations/import/", b"[1]", content_type="application/json")
    assert refused.status_code == 400 and written_since(marker) == []


# Uploads run in async views whose ORM calls take their own connection: committed data.
@pytest.mark.django_db(transaction=True)
def test_a_file_uploaded_and_downloaded_is_one_entry_each(claude):
    owner = make_user()
    conversation = make_conversation(owner)
    client = client_for(owner)
    marker = last_id()
    upload = SimpleUploadedFile("terms.txt", b"The tenant pays the rent on the first.")
    response = client.post(f"/api/conversations/{conversation.pk}/attachments/", {"file": upload})
    assert response.status_code == 201, response.content
    attachment_id = response.json()["id"]
    entry = the_one_entry(marker, AuditAction.FILE_UPLOAD, owner, "chatapp.attachment",
                          attachment_id)
    assert entry.target_repr == "terms.txt"
    assert entry.detail == {"conversation": conversation.pk, "bytes": 38}

    marker = last_id()
    url = f"/api/conversations/{conversation.pk}/attachments/{attachment_id}/file/"
    downloaded = client.get(url)
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content).startswith(b"The tenant")
    entry = the_one_entry(marker, AuditAction.FILE_DOWNLOAD, owner, "chatapp.attachment",
                          attachment_id)
    assert entry.detail == {"variant": "original"}

    marker = last_id()
    assert client_for(make_user()).get(url).status_code == 404
    assert [e.action for e in written_since(marker)] == [AuditAction.SIGN_IN]

    marker = last_id()
    detail = f"/api/conversations/{conversation.pk}/attachments/{attachment_id}/"
    assert client.delete(detail).status_code == 204
    entry = the_one_entry(marker, AuditAction.FILE_DELETE, owner, "chatapp.attachment",
                          attachment_id)
    assert entry.target_repr == "terms.txt"
    assert entry.detail == {"conversation": conversation.pk}


@pytest.mark.django_db(transaction=True)
def test_batch_documents_and_jobs_are_audited(claude):
    owner = make_user()
    client = client_for(owner)
    marker = last_id()
    upload = SimpleUploadedFile("lease.txt", b"Lease: the tenant pays.")
    response = client.post("/api/batch-documents/", {"file": upload, "model": MODEL})
    assert response.status_code == 201, response.content
    entry = the_one_entry(marker, AuditAction.FILE_UPLOAD, owner, "chatapp.attachment",
                          response.json()["id"])
    assert entry.detail == {"batch_document": True, "bytes": 23}

    documents = [make_text_document(owner, name=f"lease-{n}.txt") for n in range(2)]
    marker = last_id()
    body = {"document_ids": [d.pk for d in documents], "prompt": "Who pays?", "model": MODEL}
    created = client.post("/api/batch-jobs/", json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    job = BatchJob.objects.get()
    entry = the_one_entry(marker, AuditAction.BATCH_JOB_CREATE, owner, "chatapp.batchjob",
                          job.pk)
    assert entry.detail == {"model": MODEL, "documents": 2}

    marker = last_id()
    assert client.get(f"/api/batch-jobs/{job.pk}/results.csv").status_code == 200
    entry = the_one_entry(marker, AuditAction.BATCH_JOB_DOWNLOAD, owner, "chatapp.batchjob",
                          job.pk)
    assert entry.detail == {"format": "csv"}

    marker = last_id()
    assert client.post(f"/api/batch-jobs/{job.pk}/cancel/").status_code == 200
    the_one_entry(marker, AuditAction.BATCH_JOB_CANCEL, owner, "chatapp.batchjob", job.pk)
    marker = last_id()
    assert client.post(f"/api/batch-jobs/{job.pk}/cancel/").status_code == 409  # ended
    assert written_since(marker) == []


@pytest.mark.django_db
def test_staff_opening_another_users_costs_is_one_entry_their_own_none():
    staff = make_user("auditor", is_staff=True, is_superuser=True)
    member = make_user("erin")
    conversation = make_conversation(member, title="Erin's lease")
    client = client_for(staff)

    marker = last_id()
    assert client.get(f"/admin/costs/users/{staff.pk}/").status_code == 200
    assert written_since(marker) == []
    assert client.get(f"/admin/costs/users/{member.pk}/",
                      {"start": "2026-11-01", "end": "2026-11-30"}).status_code == 200
    entry = the_one_entry(marker, AuditAction.COST_DRILL_DOWN, staff, "auth.user", member.pk)
    assert entry.target_repr == "erin"
    assert entry.detail == {"from": "2026-11-01", "to": "2026-11-30"}

    marker = last_id()
    assert client.get(f"/admin/costs/conversations/{conversation.pk}/").status_code == 200
    entry = the_one_entry(marker, AuditAction.COST_DRILL_DOWN, staff, "chatapp.conversation",
                          conversation.pk)
    assert entry.detail == {"owner": "erin"}

    marker = last_id()
    assert client.get("/admin/costs/export.csv", {"start": "2026-11-01"}).status_code == 200
    entry = the_one_entry(marker, AuditAction.COST_EXPORT, staff, "", "")
    assert entry.detail["file"] == "users" and entry.detail["from"] == "2026-11-01"


@pytest.mark.django_db
def test_record_takes_the_request_user_and_address_and_refuses_unknown_actions(rf):
    user = make_user("frank")
    request = rf.get("/", REMOTE_ADDR="2001:db8::7")
    request.user = user
    conversation = make_conversation(user, title="Deposit")
    entry = audit.record(AuditAction.PROJECT_SHARE, request, target=conversation,
                         detail={"with": ["grace"]})
    assert (entry.actor, entry.actor_name, entry.address) == (user, "frank", "2001:db8::7")
    assert entry.action == "project.share" and entry.target_repr == "Deposit"
    with pytest.raises(ValueError):
        audit.record("project.shared", request)
    nobody = audit.record(AuditAction.SIGN_IN_FAILED, rf.get("/", REMOTE_ADDR="not an address"),
                          user=None, username="ghost")
    assert (nobody.actor, nobody.actor_name, nobody.address) == (None, "ghost", None)


@pytest.mark.django_db
def test_entries_cannot_be_changed_or_deleted_only_pruned():
    user = make_user("heidi")
    entry = AuditEntry.objects.create(action=AuditAction.SIGN_IN, actor=user,
                                      actor_name="heidi")
    entry.actor_name = "mallory"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(actor_name="mallory")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    # A deleted user's entries stay, still saying who it was.
    user.delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.actor, entry.actor_name) == (None, "heidi")


@pytest.mark.django_db(transaction=True)
async def test_a_streamed_reply_writes_no_audit_entry(claude, finish_replies):
    owner = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, connected = await open_socket(owner, conversation.pk)  # signs in: one entry
    assert connected and (await next_frame(socket))["type"] == "ready"
    marker = await database_sync_to_async(last_id)()

    await send(socket, type="user_message", text="What is a cache breakpoint?")
    frames = await frames_until(socket, "message_completed")
    assert any(f["type"] == "delta" for f in frames)
    from chatapp.replies import registry

    await registry.wait_for_all()  # its title too
    await socket.disconnect()
    assert await database_sync_to_async(written_since)(marker) == []


@pytest.mark.django_db
def test_sharing_a_project_is_one_entry_naming_who_it_was_shared_with():
    owner, bob = make_user(), make_user()
    client = client_for(owner)
    project = client.post("/api/projects/", json.dumps({"name": "Leases"}),
                          content_type="application/json").json()
    marker = last_id()
    shared = client.post(f"/api/projects/{project['id']}/members/",
                         json.dumps({"username": bob.username, "role": "use"}),
                         content_type="application/json")
    assert shared.status_code == 201
    entry = the_one_entry(marker, AuditAction.PROJECT_SHARE, owner, "chatapp.project",
                          project["id"])
    assert (entry.detail["name"], entry.detail["role"]) == (bob.username, "use")
    # Someone who may only use the project cannot share it, and leaves no entry.
    marker = last_id()
    refused = client_for(bob).post(f"/api/projects/{project['id']}/members/",
                                   json.dumps({"username": owner.username, "role": "edit"}),
                                   content_type="application/json")
    assert refused.status_code == 403
    assert [e.action for e in written_since(marker)] == [AuditAction.SIGN_IN]


# Project uploads run in an async view: committed data, as for a conversation's.
@pytest.mark.django_db(transaction=True)
def test_a_projects_document_uploaded_and_removed_is_one_entry_each(claude):
    owner = make_user()
    client = client_for(owner)
    project = client.post("/api/projects/", json.dumps({"name": "Leases"}),
                          content_type="application/json").json()
    marker = last_id()
    upload = SimpleUploadedFile("lease.txt", b"The rent is due on the first.")
    response = client.post(f"/api/projects/{project['id']}/documents/", {"file": upload})
    assert response.status_code == 201, response.content
    document_id = response.json()["id"]
    entry = the_one_entry(marker, AuditAction.FILE_UPLOAD, owner, "chatapp.attachment",
                          document_id)
    assert entry.detail == {"project": project["id"], "bytes": 29}

    marker = last_id()
    removed = client.delete(f"/api/projects/{project['id']}/documents/{document_id}/")
    assert removed.status_code == 204
    entry = the_one_entry(marker, AuditAction.FILE_DELETE, owner, "chatapp.attachment",
                          document_id)
    assert (entry.target_repr, entry.detail) == ("lease.txt", {"project": project["id"]})
