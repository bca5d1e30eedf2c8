"""The audit log: read-only, filtered, downloadable as CSV."""

from django.contrib import admin
from django.utils import timezone

from chatapp.admin.read_only import ReadOnlyAdmin
from chatapp.models import (
    AuditAction,
    AuditEntry,
)

# The admin is this product's, not stock Django's (issue 21).


class AuditActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return AuditAction.choices

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Who did what, when, from where, to what. Download a range as CSV from the list
    (``GET /api/audit/``); entries are pruned only by ``manage.py prune_audit``."""

    list_display = ["created_at", "action_label", "actor_name", "address", "target"]
    # The user filter lists users (a small table), not the distinct actors of every entry.
    list_filter = [AuditActionFilter, "actor", "target_type"]
    search_fields = ["actor_name", "address", "target_repr", "target_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["created_at", "action", "actor", "actor_name", "address", "target_type",
              "target_id", "target_repr", "detail"]
    readonly_fields = fields
    change_list_template = "admin/chatapp/auditentry/change_list.html"

    @admin.display(ordering="action", description="action")
    def action_label(self, entry: AuditEntry) -> str:
        return entry.action_label

    @admin.display(ordering="target_repr", description="object")
    def target(self, entry: AuditEntry) -> str:
        if not entry.target_type:
            return ""
        return f"{entry.target_type} {entry.target_id}: {entry.target_repr}"

    def changelist_view(self, request, extra_context=None):
        today = timezone.now().date()
        extra = {"audit_csv_from": today.replace(day=1).isoformat(),
                 "audit_csv_to": today.isoformat(), **(extra_context or {})}
        return super().changelist_view(request, extra)
