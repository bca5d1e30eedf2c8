"""Every change made in the admin as an audit entry, through the admin's own log hooks.

``log_addition``, ``log_change`` and ``log_deletions`` are the one place every admin path goes
through: the change form and its inlines (a model's prices), the change list's editable
columns, the "delete selected" action, the delete page, and a user's password form. A
``ModelAdmin`` that lists ``AuditedAdmin`` first among its bases writes an entry beside
Django's LogEntry, in the same transaction as the change where the admin opens one.
"""

import datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.http import HttpRequest

from chatapp.audit.log import record, target_of
from chatapp.models import AuditAction

_VALUES = "_audit_changed_values"
_LONGEST = 200


def _plain(value: Any) -> Any:
    """A form value as JSON an auditor reads: objects by name, many by their names."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal | datetime.date | datetime.time | datetime.timedelta):
        return str(value)
    if isinstance(value, models.QuerySet | list | tuple | set):
        return sorted(str(item)[:_LONGEST] for item in value)
    return str(value)[:_LONGEST]


def _secret(name: str) -> bool:
    return "password" in name or "secret" in name or "token" in name


def changed_values(form: Any) -> dict[str, Any]:
    """The new value of every field the form changed; never a password or other secret."""
    cleaned = getattr(form, "cleaned_data", None) or {}
    return {
        name: _plain(cleaned.get(name))
        for name in getattr(form, "changed_data", ())
        if not _secret(name)
    }


def _inline_values(formsets: Any) -> list[dict[str, Any]]:
    changes = []
    for formset in formsets or ():
        for form in formset.forms:
            values = changed_values(form)
            if values and form not in formset.deleted_forms:
                instance = form.instance
                changes.append({"model": str(instance._meta.verbose_name), "object": str(instance),
                                "values": values})
    return changes


class AuditedAdmin:
    """ModelAdmin mixin: additions, changes (with the new values) and deletions are audited."""

    def construct_change_message(self, request: HttpRequest, form: Any, formsets: Any,
                                 add: bool = False) -> Any:
        # Called right before log_addition / log_change with the form that was saved.
        values = {"values": changed_values(form)}
        inlines = _inline_values(formsets)
        if inlines:
            values["inlines"] = inlines
        setattr(request, _VALUES, values)
        return super().construct_change_message(request, form, formsets, add)  # type: ignore[misc]

    def _audit(self, action: AuditAction, request: HttpRequest, obj: Any, message: Any) -> None:
        detail = {"model": str(obj._meta.verbose_name), "changes": message or []}
        detail.update(getattr(request, _VALUES, None) or {})
        if hasattr(request, _VALUES):
            delattr(request, _VALUES)
        record(action, request, target=obj, detail=detail)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)  # type: ignore[misc]
        self._audit(AuditAction.ADMIN_ADD, request, obj, message)
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)  # type: ignore[misc]
        self._audit(AuditAction.ADMIN_CHANGE, request, obj, message)
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        """Called before the objects are deleted: their names and ids are taken now."""
        entries = super().log_deletions(request, queryset)  # type: ignore[misc]
        for obj in queryset:
            record(AuditAction.ADMIN_DELETE, request, target=target_of(obj),
                   detail={"model": str(obj._meta.verbose_name)})
        return entries
