"""The admin site: chatapp's own header, and every model's admin, by domain (each module
registers its own). Changes made here are audited (``chatapp.audit.admin_changes``)."""

from django.contrib import admin

# The admin is this product's, not stock Django's (issue 21).
admin.site.site_header = "chatapp administration"
admin.site.site_title = "chatapp admin"
admin.site.index_title = "Workspace administration"

from chatapp.admin import (  # noqa: E402  (each registers its admins)
    audit,
    batches,
    billing,
    catalog,
    conversations,
    people,
    safety,
)

__all__ = ["audit", "batches", "billing", "catalog", "conversations", "people", "safety"]
