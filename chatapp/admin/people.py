"""People: users (their single sign-on links inline) and groups (a group's budgets and
allowed models inline), audited."""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count

from chatapp.audit.admin_changes import AuditedAdmin
from chatapp.models import (
    GroupPolicy,
    ProviderIdentity,
)

admin.site.unregister(get_user_model())
admin.site.unregister(Group)


class ProviderIdentityInline(admin.TabularInline):
    """Who the user is at the OpenID provider (docs/single-sign-on.md): read, never typed in;
    removing a link makes their next sign-in find them again (or make a new user)."""

    model = ProviderIdentity
    fields = ["issuer", "subject", "created_at", "last_sign_in"]
    readonly_fields = fields
    extra = 0
    can_delete = True
    verbose_name = "single sign-on link"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(get_user_model())
class UserAdmin(AuditedAdmin, auth_admin.UserAdmin):
    def get_inlines(self, request, obj=None):
        # A user being added has no links yet (and Django's add form takes no formsets).
        return [ProviderIdentityInline] if obj is not None else []


class GroupPolicyInline(admin.StackedInline):
    """A group's budgets and allowed models (issue 21), on the group's own page."""

    model = GroupPolicy
    can_delete = True
    extra = 1
    max_num = 1
    filter_horizontal = ["allowed_models"]
    verbose_name = "budgets and models"
    verbose_name_plural = "budgets and models"


@admin.register(Group)
class GroupAdmin(AuditedAdmin, auth_admin.GroupAdmin):
    inlines = [GroupPolicyInline]
    list_display = ["name", "whole_group_budget", "per_member_budget", "models_allowed"]
    list_select_related = ["policy"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(listed=Count("policy__allowed_models"))

    @admin.display(description="monthly budget for the group (USD)")
    def whole_group_budget(self, group: Group):
        policy = getattr(group, "policy", None)
        return policy.monthly_limit_usd if policy else None

    @admin.display(description="monthly budget per member (USD)")
    def per_member_budget(self, group: Group):
        policy = getattr(group, "policy", None)
        return policy.per_member_limit_usd if policy else None

    @admin.display(description="models")
    def models_allowed(self, group: Group) -> str:
        return f"{group.listed} allowed" if group.listed else "all"
