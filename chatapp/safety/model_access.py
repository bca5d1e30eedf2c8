"""Which models a user may use (issue 21): a group's policy may list allowed models; a user
may use a model only if each of their groups with a list allows it (no list: every model).

Asked inside the query that reads the model anyway (an ``Exists``), so checking costs no
statement of its own, for a user in no group or in many.
"""

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
