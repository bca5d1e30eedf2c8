"""`POST /api/conversations/<id>/branch/`: show another version
(chatapp/conversations/branches.py)."""

from asgiref.sync import async_to_sync
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp.conversations import branches
from chatapp.safety.access import get_conversation_for_user
from chatapp.web.api import conversation_body
from chatapp.web.endpoints import api_endpoint, read_json


@api_endpoint("POST")
def switch_branch(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_conversation_for_user(request.user, conversation_id)
    message_id = read_json(request).get("message_id")
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise BadRequest("message_id must be the id of a message in this conversation.")
    try:
        conversation = branches.switch(conversation.pk, message_id)
    except branches.BranchRefused as exc:
        status = 404 if exc.code == "not_found" else 409
        return JsonResponse({"error": exc.message}, status=status)
    async_to_sync(branches.announce)(conversation.pk)
    return JsonResponse(conversation_body(conversation))
