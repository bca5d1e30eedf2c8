"""Flagged replies: what the content checks found, read-only."""

from django.contrib import admin
from django.db.models import Count, Exists, OuterRef

from chatapp.admin.read_only import ReadOnlyAdmin
from chatapp.models import (
    ContentFlag,
    FlagCategory,
    FlaggedMessage,
    Message,
)
from chatapp.safety.content_checks import describe as describe_flags

# The admin is this product's, not stock Django's (issue 21).


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
class FlaggedMessageAdmin(ReadOnlyAdmin):
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



