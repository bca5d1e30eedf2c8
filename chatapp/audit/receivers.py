"""Sign-ins, failed sign-ins and sign-outs, from Django's auth signals (connected in
chatapp/apps.py): every way in (the login page, the admin's, a single sign-on backend that
calls ``login()``) sends them."""

from typing import Any

from django.contrib.auth import get_user_model

from chatapp.audit.log import record
from chatapp.models import AuditAction


def on_logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    record(AuditAction.SIGN_IN, request, user=user)


def on_logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is not None:  # logging out without a session sends None
        record(AuditAction.SIGN_OUT, request, user=user)


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None,
                    **kwargs: Any) -> None:
    """The name tried is kept (and linked to its user when there is one); never the password.
    django-axes refuses a locked-out pair before any password is checked: it still arrives
    here, marked ``locked_out``."""
    user_model = get_user_model()
    name = str(credentials.get(user_model.USERNAME_FIELD) or credentials.get("username") or "")
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: name}).first()
    detail = {"locked_out": True} if getattr(request, "axes_locked_out", False) else {}
    record(AuditAction.SIGN_IN_FAILED, request, user=user, username=name[:150], detail=detail)
