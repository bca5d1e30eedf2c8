"""A conversation's prompt-cache settings, read from the database for ``claude/prompt.py``:
the TTL its settings ask for or its pace of questions calls for, and the previous reply's API
id for diagnostics.

Synchronous (ORM): call from the thread that builds the request. The rule and its arithmetic
are in docs/caching.md.
"""

from django.db.models import QuerySet

from chatapp.billing.prices import rates_in_force
from chatapp.claude.pricing import pick_band
from chatapp.claude.prompt_cache import PACE_GAPS, choose_ttl
from chatapp.models import CacheTtl, Conversation, Message, Role


def ttl_for(conversation: Conversation, before_message_id: int, model_id: str) -> str:
    """"5m" or "1h" for a request answering the questions asked before that message: the
    conversation's preference (its settings panel), else what its pace calls for."""
    if conversation.cache_ttl != CacheTtl.AUTO:
        return conversation.cache_ttl
    return _by_pace(conversation.messages.all(), before_message_id, model_id)


def project_ttl_for(
    conversation: Conversation, before_message_id: int, model_id: str
) -> str | None:
    """The TTL of a project's shared documents (the first question's breakpoint): by the pace
    of questions across every conversation of the project, which all read that entry; None
    outside a project (the conversation's own TTL applies) or when its settings name one."""
    if conversation.project_id is None or conversation.cache_ttl != CacheTtl.AUTO:
        return None
    in_project = Message.objects.filter(conversation__project_id=conversation.project_id)
    return _by_pace(in_project, before_message_id, model_id)


def _by_pace(messages: QuerySet[Message], before_message_id: int, model_id: str) -> str:
    asked_at = list(
        messages.filter(role=Role.USER, pk__lt=before_message_id)
        .order_by("-pk")
        .values_list("created_at", flat=True)[: PACE_GAPS + 1]
    )
    bands = rates_in_force(model_id)
    return choose_ttl(asked_at, pick_band(bands, 0) if bands else None)


def previous_upstream_id(conversation: Conversation, before_message_id: int) -> str:
    """The API id (msg_…) of the latest reply before that message, or "" if there is none.

    Sent as ``diagnostics.previous_message_id``: the API then says where this request's
    prompt stopped matching that one's, which is what a cache miss needs to be understood.
    """
    return (
        conversation.messages.filter(role=Role.ASSISTANT, pk__lt=before_message_id)
        .exclude(upstream_id="")
        .order_by("-pk")
        .values_list("upstream_id", flat=True)
        .first()
        or ""
    )
