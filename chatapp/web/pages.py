"""Pages: the chat page (one for every conversation). The page fetches the rest as JSON."""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatapp.conversations import empty as empty_conversations
from chatapp.conversations.presenters import model_json
from chatapp.models import ClaudeModel
from chatapp.policies.conversations import conversation_defaults, default_model_id
from chatapp.policies.safety import rate_limits
from chatapp.safety import model_access, ratelimits
from chatapp.safety.access import get_batch_job_for_user, get_conversation_for_user


@login_required
def chat(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    if conversation_id is not None:
        get_conversation_for_user(request.user, conversation_id)
    empty_conversations.delete_abandoned(request.user, keep=conversation_id)
    # Only the models the user's groups allow (issue 21), the default among them.
    active = model_access.allowed(ClaudeModel.objects.filter(is_active=True), request.user.pk)
    default_max = conversation_defaults().max_output_tokens
    models = [model_json(m, default_max) for m in active]
    return render(
        request,
        "chatapp/chat.html",
        {
            "conversation_id": conversation_id,
            "models": models,
            "default_model": model_access.default_model(request.user.pk, default_model_id()),
            "default_max_output": settings.CHATAPP_MAX_OUTPUT_TOKENS,
        },
    )


@login_required
def batch_jobs(request: HttpRequest, job_id: int | None = None) -> HttpResponse:
    """The Batch jobs page: new job form and list, or one job's progress and results."""
    if job_id is not None:
        get_batch_job_for_user(request.user, job_id)
    active = model_access.allowed(ClaudeModel.objects.filter(is_active=True), request.user.pk)
    models = list(
        active.values("id", "display_name", "max_output_tokens", "batch_max_output_tokens")
    )
    return render(
        request,
        "chatapp/batch_jobs.html",
        {
            "job_id": job_id,
            "models": models,
            "default_model": model_access.default_model(request.user.pk, default_model_id()),
            "default_max_tokens": settings.CHATAPP_MAX_OUTPUT_TOKENS,
        },
    )


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The page django-axes shows when logging in is paused (AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)


class ThrottledPasswordResetView(PasswordResetView):
    """Django's reset form (only when mail is configured), a few requests per address: each
    one sends a mail to whatever account the address typed belongs to."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            ratelimits.spend_sync(
                request.META.get("REMOTE_ADDR") or "-", "password_reset", rate_limits()
            )
        except ratelimits.RateLimited as exc:
            response = HttpResponse(exc.message, status=429, content_type="text/plain")
            response["Retry-After"] = str(exc.retry_after)
            return response
        return super().post(request, *args, **kwargs)
