"""Projects: creating, changing, listing and deleting them, their documents through the real
intake (sniffed, checked, counted by the offline upstream's count_tokens, stored), sharing,
and conversations started in one (chatapp/projects/, chatapp/web/api_projects.py). Who may
do what: tests/projects/test_access.py."""

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from chatapp.models import Attachment, Conversation, Project, ProjectMembership
from config.limits import request_body_limit
from tests import files
from tests.attachments.test_intake_and_prompting import offline_pdf_tokens, stored_files
from tests.factories import logged_in, make_text_document, make_user
from tests.image_files import encode, halves

# The documents endpoint is an async view, whose ORM calls run in other threads.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def owner():
    return make_user("alice")


@pytest.fixture
def client(owner):
    return logged_in(owner)


def send(client, method: str, path: str, body=None):
    return client.generic(method, path, json.dumps(body or {}),
                          content_type="application/json")


@pytest.fixture
def project(client) -> dict:
    response = send(client, "POST", "/api/projects/",
                    {"name": "  Lease review ", "instructions": "Cite the clause."})
    assert response.status_code == 201, response.content
    return response.json()


def documents_url(project, *rest) -> str:
    return "/".join([f"/api/projects/{project['id']}/documents", *map(str, rest), ""])


def upload(client, project, name: str, raw: bytes):
    return client.post(documents_url(project), {"file": SimpleUploadedFile(name, raw)})


# --- The project itself ----------------------------------------------------------------------


def test_a_new_project_is_its_creators(project, owner):
    assert project["name"] == "Lease review"  # trimmed
    assert project["instructions"] == "Cite the clause."
    assert project["owner"] == "alice" and project["role"] == "owner"
    assert Project.objects.get(pk=project["id"]).owner == owner


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "A project needs a name."),
        ({"name": "   "}, "A project needs a name."),
        ({"name": 7}, "A project needs a name."),
        ({"name": "x" * 201}, "A project's name may be at most 200 characters."),
        ({"name": "Deal", "instructions": ["no"]},
         "instructions must be text of at most 50,000 characters."),
        ({"name": "Deal", "instructions": "x" * 50_001},
         "instructions must be text of at most 50,000 characters."),
    ],
)
def test_a_project_that_cannot_be_made_gets_a_plain_400(client, body, error):
    response = send(client, "POST", "/api/projects/", body)
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert not Project.objects.exists()


def test_changing_a_project_keeps_what_was_not_named(client, project):
    path = f"/api/projects/{project['id']}/"
    response = send(client, "PATCH", path, {"instructions": "Answer in French.", "owner": "x"})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["instructions"]) == ("Lease review", "Answer in French.")
    assert body["owner"] == "alice"  # not a field one can change
    assert body["documents"] == [] and body["members"] == []
    refused = send(client, "PATCH", path, {"name": ""})
    assert refused.status_code == 400
    assert client.get(path).json()["name"] == "Lease review"


def test_projects_are_listed_most_recently_changed_first(client, owner, project):
    second = send(client, "POST", "/api/projects/", {"name": "Second"}).json()
    assert [p["id"] for p in client.get("/api/projects/").json()["projects"]] == [
        second["id"], project["id"]
    ]
    send(client, "PATCH", f"/api/projects/{project['id']}/", {"name": "First, renamed"})
    listed = client.get("/api/projects/").json()["projects"]
    assert [p["name"] for p in listed] == ["First, renamed", "Second"]
    # Shared with someone: theirs to see too, with their role.
    colleague = make_user("bob")
    send(client, "POST", f"/api/projects/{second['id']}/members/",
         {"username": "bob", "role": "use"})
    listed = logged_in(colleague).get("/api/projects/").json()["projects"]
    assert [(p["name"], p["owner"], p["role"]) for p in listed] == [("Second", "alice", "use")]


# --- Documents, through the same intake as a conversation's uploads -----------------------------


def test_a_pdf_is_checked_counted_and_stored_like_a_conversation_upload(
    claude, client, project, media_root, settings
):
    # A project has no model: its documents are checked and counted for the default one.
    settings.CHATAPP_DEFAULT_MODEL = "claude-sonnet-4-6"
    raw = files.make_pdf(files.LEASE)
    response = upload(client, project, "lease.pdf", raw)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["name"], body["media_type"]) == (
        "document", "lease.pdf", "application/pdf"
    )
    assert body["pages"] == 3 and body["size"] == len(raw)
    # Counted by the API's count_tokens (the offline upstream's documented count).
    assert body["tokens"] == offline_pdf_tokens(raw, "lease.pdf")
    counted = [r for r in claude.requests() if r["path"] == "/v1/messages/count_tokens"]
    assert [r["body"]["model"] for r in counted] == ["claude-sonnet-4-6"]
    row = Attachment.objects.get(pk=body["id"])
    assert row.project_id == project["id"] and row.conversation_id is None
    assert row.message_id is None
    assert [p.name.endswith("-original") for p in stored_files(media_root)] == [True]
    assert "lease" not in str(stored_files(media_root)[0])  # never the user's name as a path

    listed = client.get(documents_url(project)).json()["documents"]
    assert [d["id"] for d in listed] == [body["id"]]
    assert client.get(f"/api/projects/{project['id']}/").json()["documents"] == listed
    download = client.get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == raw
    assert download["Content-Disposition"] == 'attachment; filename="lease.pdf"'
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert download["X-Content-Type-Options"] == "nosniff"


def test_text_and_images_are_taken_and_what_claude_cannot_read_is_refused(
    claude, client, project, media_root
):
    text = upload(client, project, "terms.md", b"# Terms\n\nPay within 30 days.")
    assert text.status_code == 201
    assert text.json()["media_type"] == "text/plain" and text.json()["tokens"] > 0
    picture = upload(client, project, "plan.png", encode(halves((40, 30)), "PNG"))
    assert picture.status_code == 201, picture.content
    assert (picture.json()["kind"], picture.json()["width"]) == ("image", 40)

    kept = stored_files(media_root)
    for name, raw, status, words in [
        ("empty.txt", b"", 400, "The file is empty."),
        ("locked.pdf", files.encrypted_pdf(), 400, "password"),
        ("bundle.zip", files.zip_of({"a.txt": b"x"}), 415, "ZIP archive"),
        ("photo.pdf", encode(halves((40, 30)), "PNG"), 415, "named like a PDF"),
    ]:
        response = upload(client, project, name, raw)
        assert response.status_code == status, (name, response.content)
        assert words in response.json()["error"]
    assert Attachment.objects.count() == 2 and stored_files(media_root) == kept


def test_uploads_count_against_the_uploaders_rate_limit(claude, client, project, settings):
    settings.CHATAPP_UPLOAD_RATE_LIMIT = 1
    assert upload(client, project, "a.txt", b"First.").status_code == 201
    refused = upload(client, project, "b.txt", b"Second.")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert "too many files" in refused.json()["error"]
    assert Attachment.objects.count() == 1


def test_a_form_without_a_file_or_over_the_size_limit_is_refused(client, project, settings):
    assert client.post(documents_url(project), {}).status_code == 400
    # The server refuses a large body before reading it, as for a conversation's uploads.
    assert request_body_limit(documents_url(project))[0] == request_body_limit(
        "/api/conversations/1/attachments/"
    )[0] > 30 * 2**20
    settings.CHATAPP_MAX_UPLOAD_BYTES = 10
    response = upload(client, project, "big.txt", b"More than ten bytes.")
    assert response.status_code == 413
    assert not Attachment.objects.exists()


def test_removing_a_document_removes_its_files(claude, client, project, media_root):
    body = upload(client, project, "terms.txt", b"Pay within 30 days.").json()
    assert stored_files(media_root)
    assert client.delete(documents_url(project, body["id"])).status_code == 204
    assert client.get(documents_url(project)).json()["documents"] == []
    assert stored_files(media_root) == []
    assert client.delete(documents_url(project, body["id"])).status_code == 404


def test_a_projects_documents_are_not_a_users_batch_documents(owner, client, project):
    document = make_text_document(owner, project_id=project["id"])
    assert client.get("/api/batch-documents/").json()["documents"] == []
    response = send(client, "POST", "/api/batch-jobs/estimate/",
                    {"document_ids": [document.pk], "prompt": "Summarise.",
                     "model": "claude-sonnet-4-6"})
    assert response.status_code == 404


# --- Sharing ------------------------------------------------------------------------------------


def test_sharing_with_users_and_groups(client, project):
    bob, _ = make_user("bob"), Group.objects.create(name="legal")
    path = f"/api/projects/{project['id']}/members/"
    added = send(client, "POST", path, {"username": "bob", "role": "use"})
    assert added.status_code == 201
    assert added.json() | {"id": 0} == {"id": 0, "kind": "user", "name": "bob", "role": "use"}
    # Naming a member again changes their role.
    changed = send(client, "POST", path, {"username": "bob", "role": "edit"})
    assert changed.status_code == 200 and changed.json()["role"] == "edit"
    group = send(client, "POST", path, {"group": "legal", "role": "use"})
    assert group.status_code == 201 and group.json()["kind"] == "group"
    members = client.get(f"/api/projects/{project['id']}/").json()["members"]
    assert [(m["kind"], m["name"], m["role"]) for m in members] == [
        ("user", "bob", "edit"), ("group", "legal", "use")
    ]
    assert ProjectMembership.objects.get(user=bob).role == "edit"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"username": "nobody", "role": "use"}, "There is no active user called “nobody”."),
        ({"username": "retired", "role": "use"}, "There is no active user called “retired”."),
        ({"group": "ghosts", "role": "use"}, "There is no group called “ghosts”."),
        ({"username": "alice", "role": "use"}, "alice owns this project already."),
        ({"username": "bob", "group": "legal", "role": "use"},
         "Name either a user (username) or a group (group)."),
        ({"role": "use"}, "Name either a user (username) or a group (group)."),
        ({"username": "bob", "role": "admin"}, "role must be “use”"),
        ({"username": "bob"}, "role must be “use”"),
    ],
)
def test_sharing_that_cannot_be_done_gets_a_plain_400(client, project, body, error):
    make_user("bob")
    make_user("retired", is_active=False)
    Group.objects.create(name="legal")
    response = send(client, "POST", f"/api/projects/{project['id']}/members/", body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert not ProjectMembership.objects.exists()


# --- Conversations in a project ---------------------------------------------------------------


def test_a_conversation_started_in_a_project_names_it(client, project):
    response = send(client, "POST", "/api/conversations/",
                    {"project": project["id"], "title": "Notice period"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["project"] == project["id"]
    assert Conversation.objects.get(pk=body["id"]).project_id == project["id"]
    assert client.get(f"/api/conversations/{body['id']}/").json()["project"] == project["id"]
    listed = client.get("/api/conversations/").json()["conversations"]
    assert [(c["id"], c["project"]) for c in listed] == [(body["id"], project["id"])]
    # Without one, as before.
    plain = send(client, "POST", "/api/conversations/", {}).json()
    assert plain["project"] is None


def test_a_conversation_stays_in_its_project(client, project):
    conversation = send(client, "POST", "/api/conversations/", {"project": project["id"]}).json()
    path = f"/api/conversations/{conversation['id']}/"
    other = send(client, "POST", "/api/projects/", {"name": "Other"}).json()
    for value in (other["id"], None):
        response = send(client, "PATCH", path, {"project": value})
        assert response.status_code == 400
        assert "stays in the project it was started in" in response.json()["error"]
    # Sending the conversation's JSON back as it was is fine.
    same = send(client, "PATCH", path, {"project": project["id"], "title": "Renamed"})
    assert same.status_code == 200 and same.json()["project"] == project["id"]


@pytest.mark.parametrize("value", [0, -1, "1", True, 10**30, [1]])
def test_a_project_that_is_no_id_is_not_found(client, value):
    response = send(client, "POST", "/api/conversations/", {"project": value})
    assert response.status_code == 404
    assert not Conversation.objects.exists()


def test_deleting_a_project_keeps_its_conversations_and_removes_its_documents(
    claude, client, project, media_root
):
    bob = make_user("bob")
    send(client, "POST", f"/api/projects/{project['id']}/members/",
         {"username": "bob", "role": "use"})
    bobs = send(logged_in(bob), "POST", "/api/conversations/", {"project": project["id"]})
    upload(client, project, "terms.txt", b"Pay within 30 days.")
    assert stored_files(media_root)

    assert client.delete(f"/api/projects/{project['id']}/").status_code == 204
    assert client.get(f"/api/projects/{project['id']}/").status_code == 404
    assert not Attachment.objects.exists() and stored_files(media_root) == []
    assert not ProjectMembership.objects.exists()
    # Bob's conversation is still his, now a plain one.
    kept = logged_in(bob).get(f"/api/conversations/{bobs.json()['id']}/")
    assert kept.status_code == 200 and kept.json()["project"] is None
