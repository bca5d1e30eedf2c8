"""Usage records (read-only), budgets, and the months' spend, kept by the app."""

from django.contrib import admin

from chatapp.admin.read_only import ReadOnlyAdmin
from chatapp.audit.admin_changes import AuditedAdmin
from chatapp.models import (
    Budget,
    GroupMonthlySpend,
    MonthlySpend,
    UsageRecord,
)

# The admin is this product's, not stock Django's (issue 21).


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "purpose", "model", "input_tokens", "output_tokens",
                    "cache_read_tokens", "cost_usd"]
    list_filter = ["purpose", "model", "is_batch"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "conversation", "message"]
    date_hierarchy = "created_at"
    show_full_result_count = False



# --- Flagged messages (content checks, docs/security.md) ------------------------------------


@admin.register(Budget)
class BudgetAdmin(AuditedAdmin, admin.ModelAdmin):
    """Monthly budgets in USD; the row without a user is everyone else's default."""

    list_display = ["__str__", "user", "monthly_usd"]
    list_select_related = ["user"]
    # Picked by name as you type (the user admin's search), not by a raw id.
    autocomplete_fields = ["user"]
    search_fields = ["user__username"]


@admin.register(GroupMonthlySpend)
class GroupMonthlySpendAdmin(ReadOnlyAdmin):
    """What each group spent (and holds reserved) per month against its whole-group budget;
    kept by the app, read-only here."""

    list_display = ["group", "month", "spent_usd", "reserved_usd"]
    list_select_related = ["group"]
    date_hierarchy = "month"
    search_fields = ["group__name"]



@admin.register(MonthlySpend)
class MonthlySpendAdmin(ReadOnlyAdmin):
    """What each user spent (and holds reserved) per month; kept by the app, read-only here."""

    list_display = ["user", "month", "spent_usd", "reserved_usd"]
    list_select_related = ["user"]
    date_hierarchy = "month"
    search_fields = ["user__username"]
    show_full_result_count = False




