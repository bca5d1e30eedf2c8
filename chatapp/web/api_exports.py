"""Export a conversation (Markdown or JSON) and import such JSON as a new conversation
(chatapp/conversations/exports.py): parse, authorise, delegate."""

import json

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp import audit
from chatapp.conversations import exports, imports
from chatapp.conversations.presenters import conversation_json
from chatapp.policies.conversations import conversation_defaults
from chatapp.safety.access import get_conversation_for_user
from chatapp.web.endpoints import api_endpoint, load_json

FORMATS = {
    "md": ("text/markdown; charset=utf-8", exports.export_markdown),
    "json": ("application/json", lambda c: json.dumps(exports.export_json(c), indent=2)),
}


@api_endpoint("GET")
def export_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_conversation_for_user(request.user, conversation_id)
    name = request.GET.get("format", "md")
    if name not in FORMATS:
        raise BadRequest("format must be md or json.")
    content_type, render = FORMATS[name]
    response = HttpResponse(render(conversation), content_type=content_type)
    audit.record(audit.AuditAction.CONVERSATION_EXPORT, request, target=conversation,
                 detail={"format": name})
    filename = exports.filename(conversation, name)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@api_endpoint("POST")
def import_conversation(request: HttpRequest) -> HttpResponse:
    """The body is an export's JSON, as is (the browser sends the file's text)."""
    # Read from the stream: `request.body` stops at DATA_UPLOAD_MAX_MEMORY_SIZE, and an
    # export of a long conversation is larger than any other JSON request.
    raw = request.read(imports.MAX_IMPORT_BYTES + 1)
    if len(raw) > imports.MAX_IMPORT_BYTES:
        limit = imports.MAX_IMPORT_BYTES // (1024 * 1024)
        return JsonResponse({"error": f"The file is larger than {limit} MB."}, status=413)
    data = load_json(raw or b"null", "The file is not valid JSON: choose a chatapp JSON export.")
    try:
        imported = imports.import_conversation(request.user, data, conversation_defaults())
    except imports.ImportRefused as exc:
        raise BadRequest(str(exc)) from None
    audit.record(audit.AuditAction.CONVERSATION_IMPORT, request, target=imported.conversation,
                 detail={"bytes": len(raw)})
    # "notice": what did not come along (the files an export only lists), for the page to say.
    return JsonResponse({**conversation_json(imported.conversation), "notice": imported.notice},
                        status=201)
