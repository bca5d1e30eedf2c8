"""Every project is fetched through its owner and members; the views use only these helpers.

Anyone who is neither the owner nor a member (directly or through one of their groups) gets
404 for everything of a project, exactly as for a missing one: we never confirm that it exists.
Staff are no exception (they see projects in the admin). A member whose role does not allow a
change gets 403 with the reason in plain words (``ProjectForbidden``).

Roles, from least to most: "use" (chat in the project, read its documents), "edit" (also change
its name, instructions and documents), the owner (also share it and delete it). A user who is a
member several ways (directly and through groups) has the highest of their roles.
"""

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from chatapp.errors import ChatappError
from chatapp.models import Attachment, Project, ProjectMembership, ProjectRole
from chatapp.safety.inputs import is_id

OWNER = "owner"
_RANK = {ProjectRole.USE: 1, ProjectRole.EDIT: 2, OWNER: 3}

# What each action needs, and how a refusal names the action.
USE = "use"
EDIT = "edit"
SHARE = "share"
DELETE = "delete"
_NEEDS = {USE: ProjectRole.USE, EDIT: ProjectRole.EDIT, SHARE: OWNER, DELETE: OWNER}


class ProjectForbidden(ChatappError):
    """A member asked for a change their role does not allow (403, in plain words)."""

    code = "forbidden"
    http_status = 403


def _memberships_of(user: Any) -> QuerySet[ProjectMembership]:
    """The user's memberships: their own, and those of every group they are in."""
    return ProjectMembership.objects.filter(Q(user=user) | Q(group__user=user))


def visible_to(user: Any) -> QuerySet[Project]:
    """The projects the user owns or is a member of (no duplicates, no staff exception)."""
    if not user.is_authenticated:
        return Project.objects.none()
    member = _memberships_of(user).filter(project=OuterRef("pk"))
    return Project.objects.filter(Q(owner=user) | Exists(member))


def roles_of(user: Any, projects: list[Project]) -> dict[int, str]:
    """Each project's role for the user ("owner", "edit" or "use"), in one query."""
    roles = {p.pk: OWNER for p in projects if p.owner_id == user.pk}
    rows = _memberships_of(user).filter(project__in=[p for p in projects if p.pk not in roles])
    for project_id, role in rows.values_list("project_id", "role"):
        if _RANK[role] > _RANK.get(roles.get(project_id), 0):
            roles[project_id] = role
    return roles


def _refusal(project: Project, action: str) -> str:
    owner = project.owner.get_username()
    if action == EDIT:
        return (f"You can use “{project.name}” but not change it: its name, instructions and "
                f"documents can be changed by its owner ({owner}) and the members they gave "
                "the “edit” role.")
    if action == SHARE:
        return (f"Only the owner of “{project.name}” ({owner}) can choose who may use it.")
    return f"Only the owner of “{project.name}” ({owner}) can delete it."


def get_project(user: Any, project_id: Any, action: str = USE) -> tuple[Project, str]:
    """The project and the user's role in it, if they may do ``action`` (``USE``, ``EDIT``,
    ``SHARE``, ``DELETE``); Http404 without access, ProjectForbidden for a role too low."""
    if not is_id(project_id):
        raise Http404("No such project")
    project = visible_to(user).select_related("owner").filter(pk=project_id).first()
    if project is None:
        raise Http404("No such project")
    role = roles_of(user, [project])[project.pk]
    if _RANK[role] < _RANK[_NEEDS[action]]:
        raise ProjectForbidden(_refusal(project, action))
    return project, role


def current_documents(project: Project) -> QuerySet[Attachment]:
    """The project's documents as its members see them, oldest first (not those withdrawn)."""
    return project.documents.filter(withdrawn_at=None).order_by("id")


def get_document(project: Project, document_id: Any) -> Attachment:
    """One of the project's documents, or Http404."""
    if not is_id(document_id):
        raise Http404("No such document in this project")
    try:
        return current_documents(project).get(pk=document_id)
    except Attachment.DoesNotExist:
        raise Http404("No such document in this project") from None
