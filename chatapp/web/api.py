"""The chat page's own JSON endpoints (docs/protocol.md): conversations, models, the estimate,
the budget. Parse, authorise, delegate; the framework is endpoints.py."""

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
)
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp import audit
from chatapp.billing import budgets
from chatapp.billing.money import format_usd
from chatapp.claude.types import UpstreamError
from chatapp.conversations import branches, filing, presets
from chatapp.conversations import settings as conversation_settings
from chatapp.conversations.presenters import conversation_json, message_json, model_json
from chatapp.cost_review import queries as costs
from chatapp.models import ClaudeModel, Conversation
from chatapp.policies.conversations import conversation_defaults, default_model_id
from chatapp.policies.replies import reply_policy
from chatapp.policies.safety import rate_limits
from chatapp.projects import access as project_access
from chatapp.projects import service as project_service
from chatapp.replies import estimates, registry, titles
from chatapp.safety import model_access, ratelimits
from chatapp.safety.access import get_conversation_for_user, get_preset_for_user
from chatapp.safety.inputs import is_id
from chatapp.web.endpoints import api_endpoint, json_error, read_json

MAX_TITLE_CHARS = 200

def _text_field(data: dict[str, Any], name: str, limit: int) -> str:
    value = data[name]
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"{name} must be text of at most {limit:,} characters.")
    return value.strip() if name == "title" else value


def _conversation_changes(user: Any, data: dict[str, Any], current_model: str) -> dict[str, Any]:
    """Title and settings from ``data``; a ``preset`` (the user's) is applied first, so fields
    named beside it win."""
    changes: dict[str, Any] = {}  # a SettingsError is a BadRequest: answered 400
    if "preset" in data:
        changes.update(presets.conversation_fields(get_preset_for_user(user, data["preset"])))
    if "title" in data:
        changes["title"] = _text_field(data, "title", MAX_TITLE_CHARS)
    changes.update(
        conversation_settings.changes(
            data, changes.get("model", current_model), user.pk,
            default_max=conversation_defaults().max_output_tokens,
        )
    )
    return changes


@api_endpoint("GET", "POST")
def conversations(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        data = read_json(request)
        # The deployment's default, or one the user's groups allow.
        default = model_access.default_model(request.user.pk, default_model_id())
        changes = _conversation_changes(request.user, data, default)
        changes.setdefault("model", default)
        if data.get("project") is not None:  # 404 without access to it (projects/access.py)
            changes["project"], _ = project_access.get_project(request.user, data["project"])
            # Its instructions are the conversation's system prompt, unless one is asked for.
            changes.setdefault("system_prompt", changes["project"].instructions)
        conversation = Conversation.objects.create(owner=request.user, **changes)
        return JsonResponse(conversation_json(conversation), status=201)
    archived = _wants_archived(request)
    rows = _listed(request.user, archived)[:500]
    body: dict[str, Any] = {"conversations": [conversation_json(c) for c in rows]}
    if not archived:  # so an empty sidebar can say where the others are
        body["archived_count"] = Conversation.objects.filter(
            owner=request.user, archived_at__isnull=False
        ).count()
    return JsonResponse(body)


def _wants_archived(request: HttpRequest) -> bool:
    value = request.GET.get("archived", "0")
    if value not in ("0", "1"):
        raise BadRequest("archived must be 0 or 1.")
    return value == "1"


def _listed(user: Any, archived: bool) -> QuerySet[Conversation]:
    """The sidebar (pinned first, most recently pinned first, then by last use) or the
    Archived list (most recently archived first): chatapp/conversations/filing.py."""
    rows = Conversation.objects.filter(owner=user)
    if archived:
        return rows.filter(archived_at__isnull=False).order_by("-archived_at", "-id")
    return rows.filter(archived_at__isnull=True).order_by(
        F("pinned_at").desc(nulls_last=True), "-updated_at", "-id"
    )


@api_endpoint("GET", "PATCH", "DELETE")
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_conversation_for_user(request.user, conversation_id)
    if request.method == "PATCH":
        data = read_json(request)
        if data.get("project", conversation.project_id) != conversation.project_id:
            raise BadRequest("A conversation stays in the project it was started in: start a "
                             "new chat in the other project.")
        changes = _conversation_changes(request.user, data, conversation.model)
        flags = filing.requested(data)  # both checked before anything is written
        if changes:
            for name, value in changes.items():
                setattr(conversation, name, value)
            conversation.save(update_fields=[*changes, "updated_at"])
        filing.file(conversation, flags)  # pinning or archiving alone leaves updated_at
        if "title" in changes:
            async_to_sync(titles.announce)(conversation.pk, conversation.title)
        return JsonResponse(conversation_json(conversation))
    if request.method == "DELETE":
        # Stop a reply still being written, so it is not billed for nobody to read.
        registry.stop_replies_from_sync_code(conversation.pk)
        with transaction.atomic():  # the deletion and its audit entry, or neither
            audit.record(audit.AuditAction.CONVERSATION_DELETE, request, target=conversation)
            conversation.delete()
        return HttpResponse(status=204)
    return JsonResponse(conversation_body(conversation))


def conversation_body(conversation: Conversation) -> dict[str, Any]:
    """The conversation with the branch on screen; a message with other versions (edited,
    regenerated) says where it stands among them (chatapp/conversations/branches.py)."""
    messages = conversation.messages.on_screen().order_by("id")
    others = branches.versions(conversation)
    body = conversation_json(conversation)
    body["cost_usd"] = format_usd(costs.conversation_cost(conversation.pk))
    body["project_changed"] = project_service.documents_changed_since(conversation)
    body["messages"] = [
        {**message_json(m), "versions": others[m.pk].as_json() if m.pk in others else None}
        for m in messages
    ]
    return body


@api_endpoint("GET")
def models(request: HttpRequest) -> HttpResponse:
    active = ClaudeModel.objects.filter(is_active=True).prefetch_related("prices")
    rows = model_access.allowed(active, request.user.pk)  # only what the user's groups allow
    default_max = conversation_defaults().max_output_tokens
    return JsonResponse(
        {
            "default": model_access.default_model(request.user.pk, default_model_id()),
            "offline": settings.OFFLINE_UPSTREAM,
            "models": [
                {**model_json(m, default_max), "priced": bool(m.prices.all())}
                for m in rows
            ],
        }
    )


def _id_list(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not all(is_id(item) for item in value):
        raise BadRequest(f"{name} must be a list of ids.")
    return value


@api_endpoint("POST")
async def estimate(request: HttpRequest) -> HttpResponse:
    """What the message being typed would cost (chatapp/replies/estimates.py)."""
    data = read_json(request)
    text = data.get("text", "")
    limit = settings.CHATAPP_MAX_MESSAGE_CHARS
    if not isinstance(text, str) or len(text) > limit:
        raise BadRequest(f"text must be text of at most {limit:,} characters.")
    conversation_id = data.get("conversation")
    if conversation_id is not None and not is_id(conversation_id):
        raise BadRequest("conversation must be a conversation id or null.")
    model, level = data.get("model"), data.get("thinking")
    if not isinstance(model, str | None) or not isinstance(level, str | None):
        raise BadRequest("model and thinking must be text.")
    user = await request.auser()
    await ratelimits.spend(user.pk, "estimate", rate_limits())  # 429 past the limit (api_endpoint)
    try:
        result = await estimates.estimate(
            user, conversation_id=conversation_id, text=text, model_id=model,
            attachment_ids=_id_list(data.get("attachments", []), "attachments"),
            thinking_level=level, policy=reply_policy(),
        )
    except UpstreamError as exc:  # counting failed: the composer says "estimate unavailable"
        return json_error(f"The estimate is unavailable: {exc.message}", 503)
    return JsonResponse(result.as_json())


@api_endpoint("GET")
def budget(request: HttpRequest) -> HttpResponse:
    """This month's spend against the user's budget, for the composer."""
    return JsonResponse(budgets.status(request.user.pk).as_json())
