"""Pages: the chat page (one for every conversation). The page fetches the rest as JSON."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatapp.access import get_conversation_for_user
from chatapp.models import ClaudeModel


@login_required
def chat(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    if conversation_id is not None:
        get_conversation_for_user(request.user, conversation_id)
    models = list(
        ClaudeModel.objects.filter(is_active=True).values("id", "display_name", "tier")
    )
    return render(
        request,
        "chatapp/chat.html",
        {
            "conversation_id": conversation_id,
            "models": models,
            "default_model": settings.CHATAPP_DEFAULT_MODEL,
        },
    )
