"""Nobody reaches what is not theirs: the isolation matrix.

Every door of the site is a row of ``DOORS``: a URL with placeholders for the owner's objects.
For every row, a stranger gets 404 and changes nothing, an anonymous visitor is sent to log
in (401 from the API, a redirect from pages), the owner gets through, and a state-changing
request without the CSRF token is refused. Sockets are rows of ``SOCKETS``.

A new endpoint must get a row here (or a place in ``NOT_OWNED`` or ``STAFF_ONLY``):
``test_every_url_is_in_the_matrix`` fails until it does.
"""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from chatapp.models import (
    Attachment,
    AttachmentKind,
    BatchItem,
    BatchItemStatus,
    BatchJob,
    Conversation,
    Message,
    Project,
    ProjectMembership,
    PromptPreset,
)
from config.asgi import application
from tests.factories import (
    logged_in,
    make_conversation,
    make_exchange,
    make_text_document,
    make_user,
)
from tests.sockets import close_code, next_frame, open_socket, send

# transaction=True: the upload door is an async view, whose ORM calls run in other threads.
pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Ref:
    """In a door's body: the id of one of the owner's objects (a key of ``owned_objects``)."""

    name: str


@dataclass(frozen=True)
class Door:
    name: str  # the URL's name (chatapp:<name>)
    method: str
    path: str  # placeholders: the owner's objects, from ``owned_objects``
    body: dict[str, Any] | None = None
    api: bool = True  # JSON API (401) or page (login redirect)
    upload: bool = False  # the body is a file in a multipart form

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


DOORS = [
    Door("conversation", "GET", "/c/{conversation}/", api=False),
    Door("api-conversation", "GET", "/api/conversations/{conversation}/"),
    Door("api-conversation", "PATCH", "/api/conversations/{conversation}/", {"title": "mine"}),
    Door("api-conversation", "DELETE", "/api/conversations/{conversation}/"),
    Door("api-export", "GET", "/api/conversations/{conversation}/export/"),
    Door("api-branch", "POST", "/api/conversations/{conversation}/branch/",
         {"message_id": Ref("message")}),
    Door("api-attachments", "GET", "/api/conversations/{conversation}/attachments/"),
    Door("api-attachments", "POST", "/api/conversations/{conversation}/attachments/", upload=True),
    Door("api-attachment", "GET", "/api/conversations/{conversation}/attachments/{attachment}/"),
    Door("api-attachment", "DELETE",
         "/api/conversations/{conversation}/attachments/{attachment}/"),
    Door("api-attachment-file", "GET",
         "/api/conversations/{conversation}/attachments/{attachment}/file/"),
    Door("api-preset", "GET", "/api/presets/{preset}/"),
    Door("api-preset", "PATCH", "/api/presets/{preset}/", {"name": "mine"}),
    Door("api-preset", "DELETE", "/api/presets/{preset}/"),
    # Someone else's preset can neither start a chat nor be applied to one's own.
    Door("api-conversations", "POST", "/api/conversations/", {"preset": Ref("preset")}),
    Door("api-estimate", "POST", "/api/estimate/",
         {"conversation": Ref("conversation"), "text": "what will this cost?"}),
    # Projects: a stranger (not the owner, not a member) gets 404 for everything of one
    # (roles of members: tests/projects/test_access.py).
    Door("api-project", "GET", "/api/projects/{project}/"),
    Door("api-project", "PATCH", "/api/projects/{project}/", {"name": "mine"}),
    Door("api-project", "DELETE", "/api/projects/{project}/"),
    Door("api-project-documents", "GET", "/api/projects/{project}/documents/"),
    Door("api-project-documents", "POST", "/api/projects/{project}/documents/", upload=True),
    Door("api-project-document", "GET", "/api/projects/{project}/documents/{project_document}/"),
    Door("api-project-document", "DELETE",
         "/api/projects/{project}/documents/{project_document}/"),
    Door("api-project-document-file", "GET",
         "/api/projects/{project}/documents/{project_document}/file/"),
    Door("api-project-members", "POST", "/api/projects/{project}/members/",
         {"username": "colleague", "role": "edit"}),
    Door("api-project-member", "DELETE", "/api/projects/{project}/members/{project_member}/"),
    Door("api-conversations", "POST", "/api/conversations/", {"project": Ref("project")}),
    Door("batch-job", "GET", "/batch-jobs/{batch_job}/", api=False),
    Door("api-batch-job", "GET", "/api/batch-jobs/{batch_job}/"),
    Door("api-batch-job-cancel", "POST", "/api/batch-jobs/{batch_job}/cancel/"),
    Door("api-batch-job-csv", "GET", "/api/batch-jobs/{batch_job}/results.csv"),
    Door("api-batch-job-jsonl", "GET", "/api/batch-jobs/{batch_job}/results.jsonl"),
    Door("api-batch-item-conversation", "POST",
         "/api/batch-jobs/{batch_job}/items/{batch_item}/conversation/"),
]
# Doors that name no one's object: only "log in first" applies (and lists show only yours).
NOT_OWNED = {
    "home": Door("home", "GET", "/", api=False),
    "api-conversations": Door("api-conversations", "GET", "/api/conversations/"),
    "api-models": Door("api-models", "GET", "/api/models/"),
    "api-presets": Door("api-presets", "GET", "/api/presets/"),
    "api-budget": Door("api-budget", "GET", "/api/budget/"),
    "api-search": Door("api-search", "GET", "/api/search/?q=secret"),
    "api-import": Door("api-import", "POST", "/api/conversations/import/"),
    # Batch jobs: lists show only yours; another user's document in a new job is a 404
    # (tests/web/test_api_batches.py).
    "batch-jobs": Door("batch-jobs", "GET", "/batch-jobs/", api=False),
    "api-batch-jobs": Door("api-batch-jobs", "GET", "/api/batch-jobs/"),
    "api-batch-estimate": Door("api-batch-estimate", "POST", "/api/batch-jobs/estimate/"),
    "api-batch-documents": Door("api-batch-documents", "GET", "/api/batch-documents/"),
    "api-projects": Door("api-projects", "GET", "/api/projects/"),
}
# Doors for staff alone: anyone else, signed in or not, gets 404 (the door is not there for them).
STAFF_ONLY = {
    "api-audit": Door("api-audit", "GET", "/api/audit/?format=csv"),
}
SOCKETS = ["/ws/conversations/{conversation}/"]
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def owned_objects(owner) -> dict[str, int]:
    """One of each kind of object a door can name, all belonging to ``owner``."""
    conversation = make_conversation(owner, title="private")
    _, reply = make_exchange(conversation, "secret question", "secret answer")
    attachment = Attachment(
        owner=owner, conversation=conversation, kind=AttachmentKind.DOCUMENT, name="secret.txt",
        media_type="text/plain", original_media_type="text/plain", sha256="0" * 64, size=13,
        text="secret notes.",
    )
    attachment.original.save("original", ContentFile(b"secret notes."), save=False)
    attachment.save()
    job = BatchJob.objects.create(owner=owner, prompt="secret prompt", model=conversation.model,
                                  max_tokens=100)
    item = BatchItem.objects.create(
        job=job, document=attachment, document_name="secret.txt",
        status=BatchItemStatus.SUCCEEDED, content=[{"type": "text", "text": "secret answer"}],
    )
    preset = PromptPreset.objects.create(owner=owner, name="private",
                                         system_prompt="secret instructions")
    project = Project.objects.create(owner=owner, name="private",
                                     instructions="secret instructions")
    project_document = make_text_document(owner, "secret clauses.", "secret.txt",
                                          project=project)
    member = ProjectMembership.objects.create(project=project, user=make_user("colleague"),
                                             role="use")
    return {"conversation": conversation.pk, "message": reply.pk, "attachment": attachment.pk,
            "batch_job": job.pk, "batch_item": item.pk, "preset": preset.pk,
            "project": project.pk, "project_document": project_document.pk,
            "project_member": member.pk}


def call(client: Client, door: Door, ids: dict[str, int]):
    path = door.path.format(**ids)
    if door.method == "GET":
        return client.get(path)
    if door.upload:
        return client.post(path, {"file": SimpleUploadedFile("notes.txt", b"my own notes")})
    body = {k: ids[v.name] if isinstance(v, Ref) else v for k, v in (door.body or {}).items()}
    return client.generic(door.method, path, json.dumps(body), content_type="application/json")


def snapshot(owner) -> list:
    """Everything of the owner's that a stranger's request could have changed."""
    conversations = list(Conversation.objects.filter(owner=owner).values())
    messages = list(Message.objects.filter(conversation__owner=owner).values())
    attachments = list(Attachment.objects.filter(owner=owner).values())
    batch_jobs = list(BatchJob.objects.filter(owner=owner).values())
    batch_items = list(BatchItem.objects.filter(job__owner=owner).values())
    presets = list(PromptPreset.objects.filter(owner=owner).values())
    projects = list(Project.objects.filter(owner=owner).values())
    members = list(ProjectMembership.objects.filter(project__owner=owner).values())
    return [conversations, messages, attachments, batch_jobs, batch_items, presets, projects,
            members]


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def owner():
    return make_user("owner")


@pytest.fixture
def ids(owner):
    return owned_objects(owner)


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_a_stranger_gets_404_and_changes_nothing(door, owner, ids):
    before = snapshot(owner)
    response = call(logged_in(make_user("stranger")), door, ids)
    assert response.status_code == 404
    assert b"secret" not in response.content and b"private" not in response.content
    assert snapshot(owner) == before


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_the_owner_gets_through(door, owner, ids, claude):
    assert call(logged_in(owner), door, ids).status_code < 400


@pytest.mark.parametrize("door", DOORS + list(NOT_OWNED.values()), ids=str)
def test_anonymous_visitors_are_asked_to_log_in(door, owner, ids):
    response = call(Client(), door, ids)
    if door.api:
        assert response.status_code == 401
        assert response.json() == {"error": "Log in first."}
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "door", [d for d in DOORS + list(NOT_OWNED.values()) if d.method in STATE_CHANGING], ids=str
)
def test_a_state_changing_request_without_the_csrf_token_is_refused(door, owner, ids):
    before = snapshot(owner)
    response = call(logged_in(owner, enforce_csrf_checks=True), door, ids)
    assert response.status_code == 403
    assert snapshot(owner) == before


@pytest.mark.parametrize("door", STAFF_ONLY.values(), ids=str)
def test_staff_doors_are_not_found_by_anyone_else(door, owner, ids):
    for client in (Client(), logged_in(owner), logged_in(make_user("staff", is_staff=True))):
        response = call(client, door, ids)
        assert response.status_code == 404 and response.json() == {"error": "Not found."}
    auditor = make_user("auditor", is_staff=True, is_superuser=True)
    assert call(logged_in(auditor), door, ids).status_code == 200


def test_lists_and_searches_show_only_your_own(owner, ids):
    stranger = logged_in(make_user("stranger"))
    assert stranger.get("/api/conversations/").json() == {"conversations": [], "archived_count": 0}
    assert stranger.get("/api/conversations/?archived=1").json()["conversations"] == []
    assert stranger.get("/api/search/?q=secret").json() == {"results": []}
    assert logged_in(owner).get("/api/search/?q=secret").json()["results"]  # the owner finds it


def _named_urls(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{pattern.namespace}:" if pattern.namespace else ""
            yield from _named_urls(pattern.url_patterns, prefix + namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + pattern.name


def test_every_url_is_in_the_matrix():
    ours = {name.split(":", 1)[1] for name in _named_urls(get_resolver().url_patterns)
            if name.startswith("chatapp:")}
    covered = {door.name for door in DOORS} | set(NOT_OWNED) | set(STAFF_ONLY)
    assert ours - covered == set(), "add these endpoints to DOORS, NOT_OWNED or STAFF_ONLY"


# --- Sockets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SOCKETS)
async def test_sockets_refuse_strangers_with_4403_and_anonymous_visitors_with_4401(path):
    owner = await database_sync_to_async(make_user)("owner")
    ids = await database_sync_to_async(owned_objects)(owner)
    stranger = await database_sync_to_async(make_user)("stranger")
    for user, code in ((stranger, 4403), (None, 4401)):
        socket, _ = await open_socket(user, ids["conversation"], path=path.format(**ids))
        assert await close_code(socket) == code


# The site is http://127.0.0.1:8000. Every other origin is refused, including those that are the
# same *site* for cookies (another port or scheme of the same host, another allowed host name):
# a page there gets the user's session cookie sent with its handshake.
FOREIGN_ORIGINS = [
    b"https://evil.example", b"null", None, b"",
    b"http://127.0.0.1:9999", b"https://127.0.0.1", b"https://127.0.0.1:8000",
    b"http://127.0.0.1", b"http://localhost:4444", b"http://localhost:8000",
    b"http://127.0.0.1:8000.evil.example", b"http://127.0.0.1:8000/path", b"ws://127.0.0.1:8000",
]


async def _handshake(origin: bytes | None, host: bytes = b"127.0.0.1:8000"):
    owner = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(make_conversation)(owner)
    headers = [(b"host", host)] + ([(b"origin", origin)] if origin is not None else [])
    socket = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation.pk}/", headers=headers
    )
    connected, code = await socket.connect(timeout=10)
    await socket.disconnect()
    return connected, code


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS, ids=repr)
async def test_sockets_refuse_a_page_from_another_origin_or_none(origin):
    connected, code = await _handshake(origin)
    assert not connected  # the handshake itself is refused, before any session is read
    assert code == 4003  # docs/protocol.md


@pytest.mark.parametrize("origin", [b"http://127.0.0.1:8000", b"HTTP://127.0.0.1:8000"])
async def test_sockets_accept_the_sites_own_origin(origin):
    connected, _ = await _handshake(origin)
    assert connected


async def test_behind_tls_only_the_https_origin_is_ours(settings):
    settings.HTTPS = True
    assert (await _handshake(b"https://127.0.0.1:8000"))[0]
    assert (await _handshake(b"http://127.0.0.1:8000")) == (False, 4003)


async def test_a_host_that_is_not_ours_is_refused_even_with_a_matching_origin():
    # DNS rebinding: evil.example resolves to us; its page's origin matches its own Host.
    assert (await _handshake(b"http://evil.example:8000", host=b"evil.example:8000")) == (
        False, 4003
    )


async def test_csrf_trusted_origins_are_accepted_exactly(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.corp.example"]
    assert (await _handshake(b"https://chat.example.com"))[0]
    assert (await _handshake(b"https://team.corp.example"))[0]
    assert (await _handshake(b"http://chat.example.com")) == (False, 4003)
    assert (await _handshake(b"https://chat.example.com:8443")) == (False, 4003)
    assert (await _handshake(b"https://corp.example.evil")) == (False, 4003)


# --- The admin is for staff only ----------------------------------------------------------------


def _admin_pages():
    for model in admin.site._registry:
        yield f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


@pytest.mark.parametrize("url", sorted(_admin_pages()))
def test_the_admin_is_closed_to_people_without_staff_rights(url, owner, ids):
    response = logged_in(owner).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- A socket lives no longer than its login ----------------------------------------------------


def _logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def _socket_of(client: Client, conversation_id: int) -> WebsocketCommunicator:
    """A socket opened with ``client``'s session cookie, past its ``ready`` frame."""
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"),
               (b"cookie", cookie)]
    socket = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation_id}/", headers=headers
    )
    connected, _ = await socket.connect(timeout=10)
    assert connected
    assert (await next_frame(socket))["type"] == "ready"
    return socket


@pytest.fixture
def two_sessions():
    """The owner logged in twice (a laptop and a phone), each with a socket on one chat."""
    async def make():
        owner = await database_sync_to_async(make_user)()
        conversation = await database_sync_to_async(make_conversation)(owner)
        laptop = await database_sync_to_async(_logged_in_client)(owner)
        phone = await database_sync_to_async(_logged_in_client)(owner)
        sockets = [await _socket_of(client, conversation.pk) for client in (laptop, phone)]
        return owner, (laptop, phone), sockets
    return make


async def test_logging_out_closes_that_sessions_sockets(two_sessions):
    _, (laptop, _), (laptop_socket, phone_socket) = await two_sessions()
    await database_sync_to_async(laptop.post)("/accounts/logout/")
    assert await close_code(laptop_socket) == 4401
    # The phone is still logged in: its socket carries on.
    await send(phone_socket, type="stop")
    assert await phone_socket.receive_nothing(timeout=0.5)
    await phone_socket.disconnect()


@pytest.mark.parametrize("change", ["password", "deactivated", "deleted"])
async def test_a_new_password_deactivation_or_deletion_closes_every_socket(two_sessions, change):
    owner, _, sockets = await two_sessions()

    def apply():
        if change == "password":
            owner.set_password("a-new-password-4711")
            owner.save()
        elif change == "deactivated":
            owner.is_active = False
            owner.save()
        else:
            owner.delete()

    await database_sync_to_async(apply)()
    for socket in sockets:
        assert await close_code(socket) == 4401


async def test_a_frame_that_spends_money_checks_the_login_again(claude, two_sessions):
    """Sessions can end without a signal (expiry, a flush, an update() of is_active): a
    message from such a socket is not sent to Claude."""
    _, _, (laptop_socket, phone_socket) = await two_sessions()

    def end_quietly():
        Session.objects.all().delete()

    await database_sync_to_async(end_quietly)()
    await send(laptop_socket, type="user_message", text="bill the account that logged out")
    assert await close_code(laptop_socket) == 4401
    assert not await database_sync_to_async(Message.objects.exists)()
    await phone_socket.disconnect()


async def test_a_user_deactivated_without_signals_cannot_spend(claude, two_sessions):
    owner, _, (laptop_socket, phone_socket) = await two_sessions()
    await database_sync_to_async(
        lambda: type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    )()
    await send(laptop_socket, type="user_message", text="still here?")
    assert await close_code(laptop_socket) == 4401
    assert not await database_sync_to_async(Message.objects.exists)()
    await phone_socket.disconnect()
