"""Who may do what with a project, at every endpoint (chatapp/projects/access.py).

One project, owned by ``owner``, shared with ``user_member`` ("use"), ``editor`` ("edit") and
the group ``reviewers`` ("edit", of which ``group_editor`` is a member), with a document and
a membership to act on. Each door is tried by each person: a stranger and a staff member who
is no member get 404 and learn nothing (not even the project's name); a "use" member may read
and chat but gets 403 in plain words for every change; "edit" members (directly or through
their group) may change the name, instructions and documents; only the owner may share and
delete. Nothing a refused request touched has changed.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from chatapp.models import Attachment, Conversation, Project, ProjectMembership
from tests.factories import logged_in, make_text_document, make_user
from tests.sockets import close_code, frames_until, next_frame, open_socket, send

# The upload door is an async view, whose ORM calls run in other threads.
pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = ["stranger", "staff", "user_member", "group_user", "editor", "group_editor", "owner"]
READERS = {"user_member", "group_user", "editor", "group_editor", "owner"}
EDITORS = {"editor", "group_editor", "owner"}


@dataclass(frozen=True)
class Door:
    method: str
    path: str
    body: dict[str, Any] | None = None
    upload: bool = False
    # Who gets through (with ``ok``); members outside it get 403, everyone else 404.
    allowed: frozenset[str] = field(default_factory=frozenset)
    ok: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


DOORS = [
    Door("GET", "/api/projects/{project}/", allowed=frozenset(READERS)),
    Door("PATCH", "/api/projects/{project}/", {"instructions": "Cite the clause."},
         allowed=frozenset(EDITORS)),
    Door("DELETE", "/api/projects/{project}/", allowed=frozenset({"owner"}), ok=204),
    Door("GET", "/api/projects/{project}/documents/", allowed=frozenset(READERS)),
    Door("POST", "/api/projects/{project}/documents/", upload=True,
         allowed=frozenset(EDITORS), ok=201),
    Door("GET", "/api/projects/{project}/documents/{document}/", allowed=frozenset(READERS)),
    Door("GET", "/api/projects/{project}/documents/{document}/file/",
         allowed=frozenset(READERS)),
    Door("DELETE", "/api/projects/{project}/documents/{document}/",
         allowed=frozenset(EDITORS), ok=204),
    Door("POST", "/api/projects/{project}/members/", {"username": "newcomer", "role": "use"},
         allowed=frozenset({"owner"}), ok=201),
    Door("DELETE", "/api/projects/{project}/members/{membership}/",
         allowed=frozenset({"owner"}), ok=204),
    Door("POST", "/api/conversations/", {"project": "{project}"}, allowed=frozenset(READERS),
         ok=201),
]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world() -> dict[str, Any]:
    people = {name: make_user(name) for name in PEOPLE if name != "staff"}
    people["staff"] = make_user("staff", is_staff=True, is_superuser=True)
    make_user("newcomer")
    project = Project.objects.create(owner=people["owner"], name="Confidential deal",
                                     instructions="Answer from the contract.")
    users, editors = Group.objects.create(name="users"), Group.objects.create(name="reviewers")
    people["group_user"].groups.add(users)
    people["group_editor"].groups.add(editors)
    for who, role in (("user_member", "use"), ("editor", "edit")):
        ProjectMembership.objects.create(project=project, user=people[who], role=role)
    ProjectMembership.objects.create(project=project, group=users, role="use")
    ProjectMembership.objects.create(project=project, group=editors, role="edit")
    # A member who only exists to be removed (removing one of the people would change who
    # they are for the rest of the matrix).
    leaving = ProjectMembership.objects.create(project=project, user=make_user(), role="use")
    document = make_text_document(people["owner"], "Confidential clauses.", "deal.txt",
                                  project=project)
    return {"people": people, "ids": {"project": project.pk, "document": document.pk,
                                      "membership": leaving.pk}}


def call(client, door: Door, ids: dict[str, int]):
    path = door.path.format(**ids)
    if door.method == "GET":
        return client.get(path)
    if door.upload:
        return client.post(path, {"file": SimpleUploadedFile("terms.txt", b"Pay in 30 days.")})
    body = {k: int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v
            for k, v in (door.body or {}).items()}
    return client.generic(door.method, path, json.dumps(body), content_type="application/json")


def snapshot() -> list:
    return [list(Project.objects.values()), list(ProjectMembership.objects.values()),
            list(Attachment.objects.values()), list(Conversation.objects.values())]


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("door", DOORS, ids=str)
def test_each_person_at_each_door(door, person, world, claude):
    before = snapshot()
    response = call(logged_in(world["people"][person]), door, world["ids"])
    if person in door.allowed:
        assert response.status_code == door.ok, response.content
        return
    if person in READERS:  # a member whose role does not allow this change
        assert response.status_code == 403, response.content
        error = response.json()["error"]
        assert "Confidential deal" in error and "owner" in error  # says why, and who can
    else:  # no access: exactly like a missing project
        assert response.status_code == 404, response.content
        assert b"Confidential" not in response.content and b"deal" not in response.content
    assert snapshot() == before


@pytest.mark.parametrize("person", PEOPLE)
def test_the_list_shows_the_project_to_its_members_with_their_role(person, world):
    listed = logged_in(world["people"][person]).get("/api/projects/").json()["projects"]
    expected = {"stranger": None, "staff": None, "user_member": "use", "group_user": "use",
                "editor": "edit", "group_editor": "edit", "owner": "owner"}[person]
    assert [p["role"] for p in listed] == ([expected] if expected else [])


def test_the_highest_of_several_roles_counts(world):
    people = world["people"]
    # A "use" member directly who is also in the editing group may edit.
    people["user_member"].groups.add(Group.objects.get(name="reviewers"))
    client = logged_in(people["user_member"])
    project = world["ids"]["project"]
    assert client.get(f"/api/projects/{project}/").json()["role"] == "edit"
    response = client.patch(f"/api/projects/{project}/", {"name": "Renamed"},
                            content_type="application/json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"


def test_a_removed_member_loses_access_at_once(world):
    people, project = world["people"], world["ids"]["project"]
    owner = logged_in(people["owner"])
    members = owner.get(f"/api/projects/{project}/").json()["members"]
    [editor] = [m for m in members if m["name"] == "editor"]
    assert owner.delete(f"/api/projects/{project}/members/{editor['id']}/").status_code == 204
    assert logged_in(people["editor"]).get(f"/api/projects/{project}/").status_code == 404
    # Leaving a group ends what the group gave.
    people["group_editor"].groups.clear()
    assert logged_in(people["group_editor"]).get(f"/api/projects/{project}/").status_code == 404


def test_a_member_of_another_project_gets_nothing_of_this_one(world):
    other = Project.objects.create(owner=make_user(), name="Other deal")
    ProjectMembership.objects.create(project=other, user=world["people"]["stranger"],
                                     role="edit")
    client = logged_in(world["people"]["stranger"])
    project, document = world["ids"]["project"], world["ids"]["document"]
    # A document of this project is not reachable through the project the stranger may edit.
    assert client.get(f"/api/projects/{other.pk}/documents/{document}/").status_code == 404
    assert client.delete(f"/api/projects/{other.pk}/documents/{document}/").status_code == 404
    assert client.get(f"/api/projects/{project}/").status_code == 404
    assert Attachment.objects.filter(pk=document).exists()


def test_a_conversation_in_a_project_stays_its_owners(world):
    """Members share the project, not each other's conversations in it."""
    people, project = world["people"], world["ids"]["project"]
    response = logged_in(people["editor"]).post(
        "/api/conversations/", {"project": project}, content_type="application/json"
    )
    conversation = response.json()["id"]
    for person in ("owner", "user_member", "staff"):
        client = logged_in(people[person])
        assert client.get(f"/api/conversations/{conversation}/").status_code == 404
        assert conversation not in [c["id"] for c in
                                    client.get("/api/conversations/").json()["conversations"]]


async def test_on_the_socket_a_conversation_in_a_project_is_its_owners_alone(
    world, claude, finish_replies
):
    """The socket of a conversation in a project: its owner asks and gets a reply as in any
    conversation; the project's owner, other members and staff are refused with 4403."""
    people, project = world["people"], world["ids"]["project"]

    def start() -> int:
        response = logged_in(people["user_member"]).post(
            "/api/conversations/", {"project": project}, content_type="application/json"
        )
        return response.json()["id"]

    conversation = await database_sync_to_async(start)()
    for person in ("owner", "editor", "staff", "stranger"):
        socket, _ = await open_socket(people[person], conversation)
        assert await close_code(socket) == 4403, person

    socket, connected = await open_socket(people["user_member"], conversation)
    assert connected and (await next_frame(socket))["type"] == "ready"
    await send(socket, type="user_message", text="When may the tenant give notice?")
    completed = (await frames_until(socket, "message_completed"))[-1]
    assert completed["status"] == "complete"
    await socket.disconnect()
