"""A socket lives no longer than the login it was opened with.

A WebSocket is authenticated once, at its handshake; left alone it would go on sending
messages (and spending money) after its user logged out, changed their password or was
deactivated. So every socket joins a group per user, and these events close it (4401):

- logging out closes the sockets of that session;
- a new password, deactivation or deletion closes all of the user's sockets (their other
  sessions are no longer valid: Django checks the password hash kept in each session);

and before every frame that spends money the consumer checks again that the session still
exists, still belongs to the user, still matches their password, and that they are active
(``session_is_current``), which also covers a session that expired or was deleted directly.
"""

from importlib import import_module
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import transaction
from django.utils.crypto import constant_time_compare

SESSION_ENDED_EVENT = "session.ended"
SESSION_ENDED_CODE = 4401  # docs/protocol.md: not logged in


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def end_sockets(user_id: int, session_key: str | None = None) -> None:
    """Close the user's sockets (only those of ``session_key`` when given), in every process.
    Called from sync code (signal handlers)."""
    event = {"type": SESSION_ENDED_EVENT, "session_key": session_key}
    async_to_sync(get_channel_layer().group_send)(user_group(user_id), event)


def session_is_current(session_key: str | None, user_id: int, session_engine: str) -> bool:
    """Whether the session still logs ``user_id`` in, as a new request would find it.

    ``session_engine``: the module of the sessions' store (the ``SESSION_ENGINE`` setting)."""
    if not session_key:
        return False
    store = import_module(session_engine).SessionStore(session_key)
    if store.get(SESSION_KEY) != str(user_id):  # gone, expired, flushed, or someone else's
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    return constant_time_compare(store.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())


# --- Signal handlers (connected in apps.py) -----------------------------------------------------


def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and request is not None:
        end_sockets(user.pk, request.session.session_key)


def on_user_saving(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """Before a user is saved: remember whether this save logs them out everywhere."""
    if instance.pk is None or (
        update_fields is not None and not {"password", "is_active"} & set(update_fields)
    ):
        return  # a new user, or e.g. last_login only
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    instance._ends_sessions = before is not None and (
        before["password"] != instance.password or (before["is_active"] and not instance.is_active)
    )


def on_user_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    if getattr(instance, "_ends_sessions", False):
        instance._ends_sessions = False
        user_id = instance.pk
        transaction.on_commit(lambda: end_sockets(user_id))


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    user_id = instance.pk
    transaction.on_commit(lambda: end_sockets(user_id))
