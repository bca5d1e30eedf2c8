"""Which models a user may use (issue 21): a group's policy may list allowed models; a user
may use a model only if each of their groups with a list allows it (no list: every model).

Asked inside the query that reads the model anyway (an ``Exists``), so checking costs no
statement of its own, for a user in no group or in many; ``active_if_allowed`` is that query
for the one model a reply's turn reads, written once.
"""

import functools

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Case, Exists, OuterRef, QuerySet, Value, When

from chatapp.models import ClaudeModel, GroupPolicy

_Listed = GroupPolicy.allowed_models.through


def allowed(models: QuerySet[ClaudeModel], user_id: int | None) -> QuerySet[ClaudeModel]:
    """``models`` less those one of the user's groups does not allow."""
    if user_id is None:
        return models
    restricting = GroupPolicy.objects.filter(
        group__user=user_id, pk__in=_Listed.objects.values("grouppolicy_id")
    )
    disallowing = restricting.exclude(
        Exists(_Listed.objects.filter(
            grouppolicy_id=OuterRef("pk"), claudemodel_id=OuterRef(OuterRef("pk"))
        ))
    )
    return models.exclude(Exists(disallowing))


def active_if_allowed(model_id: str, user_id: int) -> ClaudeModel | None:
    """The active model ``model_id`` if the user's groups allow it, else None: ``allowed``
    for the one model every reply's turn reads, in the same single statement written once
    (compiled through the ORM, its nested ``Exists`` cost ~1.5 ms of Python a reply; issue 18).
    """
    found = list(ClaudeModel.objects.raw(_active_if_allowed_sql(), [model_id, user_id]))
    return found[0] if found else None


@functools.cache
def _active_if_allowed_sql() -> str:
    quote = connection.ops.quote_name
    model, listed = ClaudeModel._meta, _Listed._meta
    membership = User.groups.through._meta
    on = {f.name: quote(f.column) for f in listed.concrete_fields}
    member = {f.name: quote(f.column) for f in membership.concrete_fields}
    policy_group = quote(GroupPolicy._meta.get_field("group").column)
    model_pk, policy_pk = quote(model.pk.column), quote(GroupPolicy._meta.pk.column)
    columns = ", ".join(f"m.{quote(f.column)}" for f in model.concrete_fields)
    listed_table = quote(listed.db_table)
    return (
        f"SELECT {columns} FROM {quote(model.db_table)} m "
        f"WHERE m.{model_pk} = %s AND m.{quote(model.get_field('is_active').column)} "
        "AND NOT EXISTS ("  # a group of the user's whose list leaves the model out
        f"SELECT 1 FROM {quote(GroupPolicy._meta.db_table)} p "
        f"JOIN {quote(membership.db_table)} ug ON ug.{member['group']} = p.{policy_group} "
        f"WHERE ug.{member['user']} = %s "
        f"AND EXISTS (SELECT 1 FROM {listed_table} l WHERE l.{on['grouppolicy']} = p.{policy_pk}) "
        f"AND NOT EXISTS (SELECT 1 FROM {listed_table} l WHERE l.{on['grouppolicy']} = "
        f"p.{policy_pk} AND l.{on['claudemodel']} = m.{model_pk}))"
    )


def default_model(user_id: int | None, default: str) -> str:
    """The deployment's default model (``default``) if the user's groups allow it, else the
    first allowed one in the catalog's order (one statement)."""
    first = (
        allowed(ClaudeModel.objects.filter(is_active=True), user_id)
        .order_by(Case(When(pk=default, then=Value(0)), default=Value(1)), "sort_order")
        .values_list("pk", flat=True)
        .first()
    )
    return first or default


def not_allowed_message(model: ClaudeModel) -> str:
    return (
        f"{model.display_name} is not among the models your groups allow. Pick another model, "
        "or ask an administrator to allow it."
    )
