"""The model catalog with its prices by date, audited."""

from django.contrib import admin

from chatapp.audit.admin_changes import AuditedAdmin
from chatapp.models import (
    ClaudeModel,
    ModelPrice,
)

# The admin is this product's, not stock Django's (issue 21).


class ModelPriceInline(admin.TabularInline):
    model = ModelPrice
    extra = 0


@admin.register(ClaudeModel)
class ClaudeModelAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["id", "display_name", "tier", "context_window", "image_tier", "is_active"]
    list_filter = ["tier", "is_active"]
    list_editable = ["is_active"]
    inlines = [ModelPriceInline]
