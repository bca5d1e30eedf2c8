"""JSON endpoints for a conversation's attachments (docs/protocol.md): parse, authorise,
delegate to ``chatapp.attachments``.

Files are only ever served here, to their owner, as downloads: never from a public media URL.
"""

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse

from chatapp import audit
from chatapp.attachments import intake
from chatapp.billing import prices
from chatapp.claude.pricing import pick_band
from chatapp.conversations.presenters import attachment_json
from chatapp.models import Attachment, AttachmentKind, Conversation
from chatapp.policies.attachments import upload_policy
from chatapp.policies.safety import rate_limits
from chatapp.safety import ratelimits
from chatapp.safety.access import get_attachment_for_user, get_conversation_for_user
from chatapp.web.endpoints import api_endpoint, json_error

# Room for the multipart framing around the file (boundaries, part headers, the CSRF field).
MULTIPART_OVERHEAD = 64 * 1024


def upload_body_limit() -> int:
    """The largest request body an upload may have (config/limits.py enforces it early)."""
    return settings.CHATAPP_MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD


def _costs_for(conversation: Conversation):
    bands = prices.rates_in_force(conversation.model)

    def costs(attachment: Attachment):
        if attachment.kind != AttachmentKind.DOCUMENT or not bands:
            return None, None
        rates = pick_band(bands, attachment.tokens)
        return intake.question_costs(attachment.tokens, rates)

    return costs


def _listing(conversation: Conversation) -> dict[str, Any]:
    costs = _costs_for(conversation)
    rows = conversation.attachments.order_by("id")
    return {"attachments": [attachment_json(a, costs(a)) for a in rows]}


def _one(attachment: Attachment) -> dict[str, Any]:
    return attachment_json(attachment, _costs_for(attachment.conversation)(attachment))


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


async def _upload(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    # 429 past the limit (api_endpoint)
    await ratelimits.spend(conversation.owner_id, "upload", rate_limits())
    if _declared_length(request) > upload_body_limit():
        return json_error(intake.too_large(settings.CHATAPP_MAX_UPLOAD_MB).message, 413)
    # Parsing the form may read a spooled temporary file: not on the event loop.
    files = await sync_to_async(lambda: request.FILES)()
    upload = files.get("file")
    if upload is None:
        return json_error("Send the file in a form field named “file”.", 400)
    attachment = await intake.add_upload(  # UploadRejected: api_endpoint
        conversation, upload, upload_policy()
    )
    await audit.arecord(audit.AuditAction.FILE_UPLOAD, request, target=attachment,
                        detail={"conversation": conversation.pk, "bytes": attachment.size})
    return JsonResponse(await database_sync_to_async(_one)(attachment), status=201)


@api_endpoint("GET", "POST")
async def conversation_attachments(request: HttpRequest, conversation_id: int) -> HttpResponse:
    user = await request.auser()
    conversation = await database_sync_to_async(get_conversation_for_user)(user, conversation_id)
    if request.method == "POST":
        return await _upload(request, conversation)
    return JsonResponse(await database_sync_to_async(_listing)(conversation))


@api_endpoint("GET", "DELETE")
def attachment_detail(request: HttpRequest, conversation_id: int, attachment_id: int):
    attachment = get_attachment_for_user(request.user, conversation_id, attachment_id)
    if request.method == "DELETE":
        target = audit.target_of(attachment)  # its id is gone once deleted
        attachment.delete()  # its files go once this is committed (attachments/storage.py)
        audit.record(audit.AuditAction.FILE_DELETE, request, target=target,
                     detail={"conversation": conversation_id})
        return HttpResponse(status=204)
    return JsonResponse(_one(attachment))


@api_endpoint("GET")
def attachment_file(request: HttpRequest, conversation_id: int, attachment_id: int):
    """The file as uploaded (or, with ``?variant=prepared``, an image as Claude sees it),
    always as a download: a file a user uploaded is never rendered as a page of ours."""
    attachment = get_attachment_for_user(request.user, conversation_id, attachment_id)
    return download(request, attachment)


def download(request: HttpRequest, attachment: Attachment) -> HttpResponse:
    """The attachment's file as a sandboxed download (a project's documents too)."""
    prepared = request.GET.get("variant") == "prepared" and bool(attachment.prepared)
    field = attachment.prepared if prepared else attachment.original
    try:
        handle = field.open("rb")
    except OSError:
        return json_error("The file is missing on the server.", 404)
    audit.record(audit.AuditAction.FILE_DOWNLOAD, request, target=attachment,
                 detail={"variant": "prepared" if prepared else "original"})
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.media_type if prepared else attachment.original_media_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
