"""`GET /api/search/?q=`: the user's conversations and messages that match
(chatapp/conversations/search.py)."""

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp.conversations import search
from chatapp.web.endpoints import api_endpoint


@api_endpoint("GET")
def search_view(request: HttpRequest) -> HttpResponse:
    try:
        hits = search.search(
            request.user, request.GET.get("q", ""),
            include_archived=request.GET.get("archived") == "1",
        )
    except search.SearchError as exc:
        raise BadRequest(str(exc)) from None
    return JsonResponse({"results": [hit.as_json() for hit in hits]})
