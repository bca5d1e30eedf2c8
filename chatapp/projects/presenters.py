"""Projects as the JSON the browser sees (docs/protocol.md). No queries here: callers pass
what was read (owner with the project; user or group with a membership)."""

from collections.abc import Iterable
from typing import Any

from chatapp.models import Attachment, AttachmentKind, Project, ProjectMembership
from chatapp.safety.content_checks import describe as describe_flags


def project_json(project: Project, role: str) -> dict[str, Any]:
    """``role``: the reader's, "owner", "edit" or "use"."""
    return {
        "id": project.pk,
        "name": project.name,
        "instructions": project.instructions,
        "owner": project.owner.get_username(),
        "role": role,
        "created_at": project.created_at.isoformat(),
        "updated_at": project.updated_at.isoformat(),
    }


def project_detail_json(
    project: Project, role: str, documents: Iterable[Attachment],
    members: Iterable[ProjectMembership],
) -> dict[str, Any]:
    return {
        **project_json(project, role),
        "documents": [document_json(d) for d in documents],
        "members": [member_json(m) for m in members],
    }


def member_json(membership: ProjectMembership) -> dict[str, Any]:
    if membership.user_id is not None:
        kind, name = "user", membership.user.get_username()
    else:
        kind, name = "group", membership.group.name
    return {"id": membership.pk, "kind": kind, "name": name, "role": membership.role}


def document_json(document: Attachment) -> dict[str, Any]:
    base = f"/api/projects/{document.project_id}/documents/{document.pk}/"
    body: dict[str, Any] = {
        "id": document.pk,
        "kind": document.kind,
        "name": document.name,
        "media_type": document.media_type,
        "size": document.size,
        "pages": document.pages,
        "tokens": document.tokens,
        "created_at": document.created_at.isoformat(),
        "download_url": base + "file/",
        "flags": describe_flags(document.flag_summary),
    }
    if document.kind == AttachmentKind.IMAGE:
        body.update(width=document.width, height=document.height,
                    preview_url=base + "file/?variant=prepared")
    return body
