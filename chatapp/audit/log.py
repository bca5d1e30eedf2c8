"""Writing an audit entry: one INSERT, from the edge that saw the action (a view, a signal,
an admin hook). Never on a reply's path: nothing here is called per reply or per token."""

import ipaddress
from typing import Any, NamedTuple

from channels.db import database_sync_to_async
from django.db import models
from django.http import HttpRequest

from chatapp.models import AuditAction, AuditEntry


class Target(NamedTuple):
    """The object an action touched, as it was at the moment (it may be gone afterwards)."""

    type: str  # "app_label.model_name"
    id: str
    label: str


def target_of(obj: models.Model) -> Target:
    """A snapshot of ``obj``: take it before deleting the object (its pk is gone afterwards)."""
    meta = obj._meta
    return Target(f"{meta.app_label}.{meta.model_name}", str(obj.pk), str(obj)[:200])


def client_address(request: HttpRequest | None) -> str | None:
    """The client's address as the app sees it: ``REMOTE_ADDR``, which config/proxies.py has
    rewritten from X-Forwarded-For only when a trusted proxy sent it (the address django-axes
    locks out by, too)."""
    if request is None:
        return None
    raw = (getattr(request, "META", None) or {}).get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        return None


# ``record``'s default for ``user``: the request's signed-in user (None: nobody).
FROM_REQUEST: Any = object()


def _signed_in(request: HttpRequest | None) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def record(
    action: AuditAction | str,
    request: HttpRequest | None = None,
    *,
    user: Any = FROM_REQUEST,
    username: str | None = None,
    target: models.Model | Target | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry: ``action`` (an ``AuditAction``; ValueError for an unknown code), done by
    ``user`` (default: the request's signed-in user; None: nobody) from the request's address, to
    ``target`` (a model instance, or ``target_of(obj)`` taken before a deletion), with
    ``detail`` (JSON: what an auditor needs besides, never a secret).
    """
    action = AuditAction(action)
    if user is FROM_REQUEST:
        user = _signed_in(request)
    if username is None:
        username = user.get_username() if user is not None else ""
    if isinstance(target, models.Model):
        target = target_of(target)
    return AuditEntry.objects.create(
        action=action.value,
        actor=user,
        actor_name=username[:150],
        address=client_address(request),
        target_type=target.type if target else "",
        target_id=target.id if target else "",
        target_repr=target.label[:200] if target else "",
        detail=detail or {},
    )


async def arecord(
    action: AuditAction | str, request: HttpRequest, **fields: Any
) -> AuditEntry:
    """``record`` from an async view: the signed-in user read the async way, the INSERT off
    the event loop."""
    if "user" not in fields:
        user = await request.auser()
        fields["user"] = user if user.is_authenticated else None
    return await database_sync_to_async(record)(action, request, **fields)
