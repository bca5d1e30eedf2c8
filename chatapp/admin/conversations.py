"""Conversations, their messages and attachments, prompt presets and projects."""

from django.contrib import admin

from chatapp.audit.admin_changes import AuditedAdmin
from chatapp.models import (
    Attachment,
    Conversation,
    Message,
    Project,
    ProjectMembership,
    PromptPreset,
)

# The admin is this product's, not stock Django's (issue 21).


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
