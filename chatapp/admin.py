from django.contrib import admin

from chatapp.models import ClaudeModel, Conversation, Message, ModelPrice, UsageRecord


class ModelPriceInline(admin.TabularInline):
    model = ModelPrice
    extra = 0


@admin.register(ClaudeModel)
class ClaudeModelAdmin(admin.ModelAdmin):
    list_display = ["id", "display_name", "tier", "context_window", "image_tier", "is_active"]
    list_filter = ["tier", "is_active"]
    list_editable = ["is_active"]
    inlines = [ModelPriceInline]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "model", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "conversation", "role", "status", "model", "output_tokens", "cost_usd"]
    list_filter = ["role", "status"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation", "reply_to"]
    show_full_result_count = False


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "purpose", "model", "input_tokens", "output_tokens",
                    "cache_read_tokens", "cost_usd"]
    list_filter = ["purpose", "model", "is_batch"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "conversation", "message"]
    date_hierarchy = "created_at"
    show_full_result_count = False
