from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Exists, OuterRef, Sum
from django.utils import timezone

from chatapp.audit.admin_changes import AuditedAdmin
from chatapp.models import (
    Attachment,
    AuditAction,
    AuditEntry,
    BatchItem,
    BatchJob,
    Budget,
    ClaudeModel,
    ContentFlag,
    Conversation,
    FlagCategory,
    FlaggedMessage,
    GroupMonthlySpend,
    GroupPolicy,
    Message,
    MessageBatch,
    ModelPrice,
    MonthlySpend,
    Project,
    ProjectMembership,
    PromptPreset,
    UsageRecord,
)
from chatapp.safety.content_checks import describe as describe_flags

# The admin is this product's, not stock Django's (issue 21).
admin.site.site_header = "chatapp administration"
admin.site.site_title = "chatapp admin"
admin.site.index_title = "Workspace administration"


# --- Users and groups: Django's admins, audited ------------------------------------------------

admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserAdmin(AuditedAdmin, auth_admin.UserAdmin):
    pass


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


class ModelPriceInline(admin.TabularInline):
    model = ModelPrice
    extra = 0


@admin.register(ClaudeModel)
class ClaudeModelAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["id", "display_name", "tier", "context_window", "image_tier", "is_active"]
    list_filter = ["tier", "is_active"]
    list_editable = ["is_active"]
    inlines = [ModelPriceInline]


@admin.register(Conversation)
class ConversationAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["id", "title", "owner", "model", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]


@admin.register(PromptPreset)
class PromptPresetAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "owner", "model", "temperature", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]
    raw_id_fields = ["owner"]


class ProjectMembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Staff see and manage every project here; the API treats them like anyone else."""

    list_display = ["id", "name", "owner", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]
    raw_id_fields = ["owner"]
    inlines = [ProjectMembershipInline]


@admin.register(Message)
class MessageAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["id", "conversation", "role", "status", "model", "output_tokens", "cost_usd",
                    "cache_miss"]
    list_filter = ["role", "status", ("cache_miss_reason", admin.EmptyFieldListFilter)]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation", "reply_to"]
    readonly_fields = ["upstream_id", "cache_miss_reason"]
    show_full_result_count = False

    @admin.display(description="cache miss")
    def cache_miss(self, message: Message) -> str:
        """Why the prompt cache missed, as the API's diagnostics said (docs/caching.md)."""
        reason = message.cache_miss_reason or {}
        missed = reason.get("cache_missed_input_tokens")
        kind = reason.get("type", "")
        return f"{kind} ({missed:,} tokens)" if missed else kind


@admin.register(Attachment)
class AttachmentAdmin(AuditedAdmin, admin.ModelAdmin):
    """Read only; the files themselves are served to their owner alone."""

    list_display = ["id", "name", "kind", "owner", "conversation", "project", "size", "pages",
                    "tokens", "message", "created_at"]
    list_filter = ["kind", "media_type"]
    list_select_related = ["owner", "conversation", "project"]
    search_fields = ["name", "owner__username", "sha256"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["owner", "conversation", "project", "message", "kind", "name", "media_type",
              "original_media_type", "sha256", "size", "pages", "width", "height", "tokens",
              "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "purpose", "model", "input_tokens", "output_tokens",
                    "cache_read_tokens", "cost_usd"]
    list_filter = ["purpose", "model", "is_batch"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "conversation", "message"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    # Read only (issue 21): the app writes every record; the bills add up from them.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Flagged messages (content checks, docs/security.md) ------------------------------------


class ContentFlagInline(admin.TabularInline):
    model = ContentFlag
    extra = 0
    fields = ["category", "kind", "action", "excerpt", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class FlagCategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return FlagCategory.choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # A subquery, not a join: the flag count column must not be multiplied.
        flags = ContentFlag.objects.filter(message=OuterRef("pk"), category=self.value())
        return queryset.filter(Exists(flags))


@admin.register(FlaggedMessage)
class FlaggedMessageAdmin(admin.ModelAdmin):
    """Replies the content checks flagged, for review; read only."""

    list_display = ["id", "owner", "conversation", "categories", "flag_count", "created_at"]
    list_filter = [FlagCategoryFilter, ("conversation__owner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["conversation__owner"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["conversation", "role", "status", "model", "content", "original_content",
              "flag_summary", "created_at"]
    readonly_fields = fields
    inlines = [ContentFlagInline]

    def get_queryset(self, request):
        flagged = ContentFlag.objects.filter(message=OuterRef("pk"))
        return (
            super().get_queryset(request)
            .filter(Exists(flagged))
            .annotate(flag_count=Count("content_flags"))
        )

    @admin.display(ordering="conversation__owner__username")
    def owner(self, message: Message):
        return message.conversation.owner

    @admin.display(description="categories")
    def categories(self, message: Message) -> str:
        labels = {entry["category_label"] for entry in describe_flags(message.flag_summary)}
        return ", ".join(sorted(labels))

    @admin.display(ordering="flag_count", description="flags")
    def flag_count(self, message: Message) -> int:
        return message.flag_count

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Batch jobs (chatapp/batches/jobs.py) -------------------------------------------------------


class MessageBatchInline(admin.TabularInline):
    model = MessageBatch
    extra = 0
    fields = ["upstream_id", "status", "long_output", "request_counts", "cancel_sent",
              "results_recorded", "error_message", "expires_at", "ended_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BatchJob)
class BatchJobAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["id", "owner", "status", "model", "document_count", "cost", "created_at",
                    "ended_at"]
    list_filter = ["status", "model"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    search_fields = ["owner__username", "prompt"]
    date_hierarchy = "created_at"
    inlines = [MessageBatchInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            documents=Count("items"), total_cost=Sum("items__cost_usd")
        )

    @admin.display(ordering="documents", description="documents")
    def document_count(self, job: BatchJob) -> int:
        return job.documents

    @admin.display(ordering="total_cost", description="cost (USD)")
    def cost(self, job: BatchJob):
        return job.total_cost


@admin.register(BatchItem)
class BatchItemAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["id", "job", "document_name", "status", "output_tokens", "cost_usd",
                    "error_code"]
    list_filter = ["status"]
    raw_id_fields = ["job", "batch", "document"]
    search_fields = ["custom_id", "document_name"]
    show_full_result_count = False


@admin.register(Budget)
class BudgetAdmin(AuditedAdmin, admin.ModelAdmin):
    """Monthly budgets in USD; the row without a user is everyone else's default."""

    list_display = ["__str__", "user", "monthly_usd"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["user__username"]


@admin.register(GroupMonthlySpend)
class GroupMonthlySpendAdmin(admin.ModelAdmin):
    """What each group spent (and holds reserved) per month against its whole-group budget;
    kept by the app, read-only here."""

    list_display = ["group", "month", "spent_usd", "reserved_usd"]
    list_select_related = ["group"]
    date_hierarchy = "month"
    search_fields = ["group__name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MonthlySpend)
class MonthlySpendAdmin(admin.ModelAdmin):
    """What each user spent (and holds reserved) per month; kept by the app, read-only here."""

    list_display = ["user", "month", "spent_usd", "reserved_usd"]
    list_select_related = ["user"]
    date_hierarchy = "month"
    search_fields = ["user__username"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False



# --- The audit log (chatapp/audit/): read only, never changed or deleted here ----------------


class AuditActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return AuditAction.choices

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
