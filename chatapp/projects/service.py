"""What people do with projects: create, change, delete, list, share, and add or remove
documents. Sync functions use the ORM (call them from views or a database thread);
``add_document`` is async, as the intake works off the event loop.

Access is checked before these are called (``access.get_project``); the checks here are of
what is asked for, refused as ``BadRequest`` in plain words with nothing changed.
"""

from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import BadRequest
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from chatapp.attachments import intake
from chatapp.attachments.policy import UploadPolicy
from chatapp.claude.prompt_attachments import REFERENCE
from chatapp.models import (
    Attachment,
    Conversation,
    Message,
    Project,
    ProjectMembership,
    ProjectRole,
    Role,
)
from chatapp.projects import access
from chatapp.safety import ratelimits
from chatapp.safety.policy import RateLimits

MAX_NAME_CHARS = 200
# As a conversation's system prompt (chatapp/conversations/settings.py).
MAX_INSTRUCTIONS_CHARS = 50_000


# --- Checking what is asked for --------------------------------------------------------------


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("A project needs a name.")
    value = value.strip()
    if len(value) > MAX_NAME_CHARS:
        raise BadRequest(f"A project's name may be at most {MAX_NAME_CHARS} characters.")
    return value


def _instructions(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_INSTRUCTIONS_CHARS:
        raise BadRequest(
            f"instructions must be text of at most {MAX_INSTRUCTIONS_CHARS:,} characters."
        )
    return value


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if "name" in data:
        found["name"] = _name(data["name"])
    if "instructions" in data:
        found["instructions"] = _instructions(data["instructions"])
    return found


# --- Projects ---------------------------------------------------------------------------------


def create(owner: Any, data: dict[str, Any]) -> Project:
    """A new project of ``owner``'s from ``{"name", "instructions"?}``."""
    if "name" not in data:
        raise BadRequest("A project needs a name.")
    return Project.objects.create(owner=owner, **_fields(data))


def update(project: Project, data: dict[str, Any]) -> Project:
    """``name`` and ``instructions`` as given; the rest of ``data`` is left alone."""
    changes = _fields(data)
    if changes:
        for name, value in changes.items():
            setattr(project, name, value)
        project.save(update_fields=[*changes, "updated_at"])
    return project


def delete(project: Project) -> None:
    """The project, its documents (their files once this commits) and its memberships go;
    its conversations stay, as plain conversations of their owners."""
    project.delete()


def listed_for(user: Any) -> QuerySet[Project]:
    """The user's projects and those shared with them, most recently changed first."""
    return access.visible_to(user).select_related("owner").order_by("-updated_at", "-id")


# --- Members ----------------------------------------------------------------------------------


def _role(value: Any) -> str:
    if value not in ProjectRole.values:
        raise BadRequest("role must be “use” (chat in the project, read its documents) or "
                         "“edit” (also change its instructions and documents).")
    return value


def _member(project: Project, data: dict[str, Any]) -> dict[str, Any]:
    """``{"user": …}`` or ``{"group": …}`` for ``{"username"}`` or ``{"group"}``."""
    if ("username" in data) == ("group" in data):
        raise BadRequest("Name either a user (username) or a group (group).")
    if "username" in data:
        username = data["username"]
        user = None
        if isinstance(username, str):
            user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise BadRequest(f"There is no active user called “{username}”.")
        if user.pk == project.owner_id:
            raise BadRequest(f"{username} owns this project already.")
        return {"user": user}
    name = data["group"]
    group = Group.objects.filter(name=name).first() if isinstance(name, str) else None
    if group is None:
        raise BadRequest(f"There is no group called “{name}”.")
    return {"group": group}


def add_member(project: Project, data: dict[str, Any]) -> tuple[ProjectMembership, bool]:
    """A user or a group given ``role`` in the project; a member already there gets the new
    role. Returns the membership and whether it is new."""
    role = _role(data.get("role"))
    who = _member(project, data)
    with transaction.atomic():
        membership, created = ProjectMembership.objects.select_for_update().get_or_create(
            project=project, **who, defaults={"role": role}
        )
        if not created and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
    return membership, created


def remove_member(project: Project, membership_id: int) -> None:
    """Http404 when the project has no such membership."""
    deleted, _ = project.memberships.filter(pk=membership_id).delete()
    if not deleted:
        raise Http404("No such member of this project")


# --- Documents --------------------------------------------------------------------------------


async def add_document(
    user: Any, project: Project, upload: UploadedFile, *, rate_limits: RateLimits,
    upload_policy: UploadPolicy,
) -> Attachment:
    """One file into the project through the same intake, checks and limits as a
    conversation's uploads (the uploader's rate limit, sizes, content, tokens; the limits of
    the policy's default model, as a project has no model); raises ``RateLimited`` or
    ``UploadRejected`` with nothing stored."""
    await ratelimits.spend(user.pk, "upload", rate_limits)
    document = await intake.add_project_document(project, upload, upload_policy)
    await database_sync_to_async(_touch)(project)
    return document


def remove_document(project: Project, document: Attachment) -> None:
    """The document (``access.get_document``'s) and (once this commits) its files; or, when
    conversations were started with it, it is withdrawn: they keep sending it (append-only),
    new ones do not get it."""
    if _opens_a_conversation(project, document):
        document.withdrawn_at = timezone.now()
        document.save(update_fields=["withdrawn_at"])
    else:
        document.delete()
    _touch(project)


def _opens_a_conversation(project: Project, document: Attachment) -> bool:
    """Whether a conversation of the project started with it (its first question, in any
    version, refers to it: attachments/prompting.project_references)."""
    first_questions = Message.objects.filter(
        conversation__project=project, role=Role.USER, parent=None
    ).values_list("content", flat=True)
    return any(
        block.get("attachment_id") == document.pk
        for content in first_questions.iterator()
        for block in content
    )


def documents_changed_since(conversation: Conversation) -> bool:
    """Whether the project's documents are no longer those the conversation started with (one
    added or withdrawn since its first question): it goes on with what it started with
    (append-only), and a new chat would get the project as it is now."""
    if conversation.project_id is None:
        return False
    first = conversation.messages.filter(role=Role.USER, parent=None).order_by("pk").first()
    if first is None:  # nothing asked yet: its first question takes the project as it is
        return False
    documents = dict(
        Attachment.objects.filter(project_id=conversation.project_id)
        .values_list("pk", "withdrawn_at")
    )
    started = {block.get("attachment_id") for block in first.content
               if block.get("type") == REFERENCE} & documents.keys()
    current = {pk for pk, withdrawn in documents.items() if withdrawn is None}
    return started != current


def _touch(project: Project) -> None:
    """A change of documents is a change of the project (the list's order)."""
    project.save(update_fields=["updated_at"])
