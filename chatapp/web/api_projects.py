"""JSON endpoints for projects (docs/protocol.md, "Projects"): parse, authorise, delegate to
``chatapp.projects``. Everything of a project is reached through ``projects.access``: 404
without access, 403 in plain words for a change the member's role does not allow."""

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp import audit
from chatapp.attachments import intake
from chatapp.models import Project
from chatapp.policies.attachments import upload_policy
from chatapp.policies.safety import rate_limits
from chatapp.projects import access, service
from chatapp.projects.presenters import (
    document_json,
    member_json,
    project_detail_json,
    project_json,
)
from chatapp.web.api_attachments import download, upload_body_limit
from chatapp.web.endpoints import api_endpoint, json_error, read_json


@api_endpoint("GET", "POST")
def projects_collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        project = service.create(request.user, read_json(request))
        return JsonResponse(project_json(project, access.OWNER), status=201)
    rows = list(service.listed_for(request.user)[:500])
    roles = access.roles_of(request.user, rows)
    return JsonResponse({"projects": [project_json(p, roles[p.pk]) for p in rows]})


def _detail(project: Project, role: str) -> dict[str, Any]:
    members = project.memberships.select_related("user", "group")
    return project_detail_json(project, role, access.current_documents(project), members)


@api_endpoint("GET", "PATCH", "DELETE")
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    if request.method == "PATCH":
        project, role = access.get_project(request.user, project_id, access.EDIT)
        service.update(project, read_json(request))
        return JsonResponse(_detail(project, role))
    if request.method == "DELETE":
        project, _ = access.get_project(request.user, project_id, access.DELETE)
        service.delete(project)
        return HttpResponse(status=204)
    return JsonResponse(_detail(*access.get_project(request.user, project_id)))


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@api_endpoint("GET", "POST")
async def project_documents(request: HttpRequest, project_id: int) -> HttpResponse:
    user = await request.auser()
    action = access.EDIT if request.method == "POST" else access.USE
    project, _ = await database_sync_to_async(access.get_project)(user, project_id, action)
    if request.method == "GET":
        rows = await database_sync_to_async(lambda: list(access.current_documents(project)))()
        return JsonResponse({"documents": [document_json(d) for d in rows]})
    if _declared_length(request) > upload_body_limit():
        return json_error(intake.too_large(settings.CHATAPP_MAX_UPLOAD_MB).message, 413)
    # Parsing the form may read a spooled temporary file: not on the event loop.
    files = await sync_to_async(lambda: request.FILES)()
    upload = files.get("file")
    if upload is None:
        return json_error("Send the file in a form field named “file”.", 400)
    # RateLimited (429), UploadRejected (400, 413, 415): answered by api_endpoint.
    document = await service.add_document(
        user, project, upload, rate_limits=rate_limits(), upload_policy=upload_policy()
    )
    await audit.arecord(audit.AuditAction.FILE_UPLOAD, request, target=document,
                        detail={"project": project.pk, "bytes": document.size})
    return JsonResponse(document_json(document), status=201)


@api_endpoint("GET", "DELETE")
def project_document(request: HttpRequest, project_id: int, document_id: int) -> HttpResponse:
    if request.method == "DELETE":
        project, _ = access.get_project(request.user, project_id, access.EDIT)
        document = access.get_document(project, document_id)
        target = audit.target_of(document)  # its id is gone once deleted
        service.remove_document(project, document)  # deleted, or withdrawn if in use
        audit.record(audit.AuditAction.FILE_DELETE, request, target=target,
                     detail={"project": project.pk})
        return HttpResponse(status=204)
    project, _ = access.get_project(request.user, project_id)
    return JsonResponse(document_json(access.get_document(project, document_id)))


@api_endpoint("GET")
def project_document_file(
    request: HttpRequest, project_id: int, document_id: int
) -> HttpResponse:
    """The document as uploaded (``?variant=prepared``: an image as Claude sees it), to
    anyone who may use the project, always as a download."""
    project, _ = access.get_project(request.user, project_id)
    return download(request, access.get_document(project, document_id))


@api_endpoint("POST")
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = access.get_project(request.user, project_id, access.SHARE)
    membership, created = service.add_member(project, read_json(request))
    shared = member_json(membership)
    audit.record(audit.AuditAction.PROJECT_SHARE, request, target=project, detail=shared)
    return JsonResponse(shared, status=201 if created else 200)


@api_endpoint("DELETE")
def project_member(request: HttpRequest, project_id: int, member_id: int) -> HttpResponse:
    project, _ = access.get_project(request.user, project_id, access.SHARE)
    service.remove_member(project, member_id)
    return HttpResponse(status=204)
