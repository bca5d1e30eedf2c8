"""Batch jobs and their items."""

from django.contrib import admin
from django.db.models import Count, Sum

from chatapp.audit.admin_changes import AuditedAdmin
from chatapp.models import (
    BatchItem,
    BatchJob,
    MessageBatch,
)

# The admin is this product's, not stock Django's (issue 21).


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
