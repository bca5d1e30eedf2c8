from django.urls import path

from chatapp.web import (
    api,
    api_attachments,
    api_branches,
    api_exports,
    api_presets,
    api_projects,
    api_search,
)
from chatapp.web import api_audit as audit_api
from chatapp.web import api_batches as batch_api
from chatapp.web import pages as views

app_name = "chatapp"

urlpatterns = [
    path("", views.chat, name="home"),
    path("c/<int:conversation_id>/", views.chat, name="conversation"),
    path("api/conversations/", api.conversations, name="api-conversations"),
    path(
        "api/conversations/<int:conversation_id>/",
        api.conversation_detail,
        name="api-conversation",
    ),
    path("api/models/", api.models, name="api-models"),
    path("api/presets/", api_presets.presets_collection, name="api-presets"),
    path("api/presets/<int:preset_id>/", api_presets.preset_detail, name="api-preset"),
    path("api/search/", api_search.search_view, name="api-search"),
    path(
        "api/conversations/import/", api_exports.import_conversation, name="api-import"
    ),
    path(
        "api/conversations/<int:conversation_id>/export/",
        api_exports.export_conversation,
        name="api-export",
    ),
    path(
        "api/conversations/<int:conversation_id>/branch/",
        api_branches.switch_branch,
        name="api-branch",
    ),
    path(
        "api/conversations/<int:conversation_id>/attachments/",
        api_attachments.conversation_attachments,
        name="api-attachments",
    ),
    path(
        "api/conversations/<int:conversation_id>/attachments/<int:attachment_id>/",
        api_attachments.attachment_detail,
        name="api-attachment",
    ),
    path(
        "api/conversations/<int:conversation_id>/attachments/<int:attachment_id>/file/",
        api_attachments.attachment_file,
        name="api-attachment-file",
    ),
    # Projects (docs/protocol.md, "Projects")
    path("api/projects/", api_projects.projects_collection, name="api-projects"),
    path("api/projects/<int:project_id>/", api_projects.project_detail, name="api-project"),
    path(
        "api/projects/<int:project_id>/documents/",
        api_projects.project_documents,
        name="api-project-documents",
    ),
    path(
        "api/projects/<int:project_id>/documents/<int:document_id>/",
        api_projects.project_document,
        name="api-project-document",
    ),
    path(
        "api/projects/<int:project_id>/documents/<int:document_id>/file/",
        api_projects.project_document_file,
        name="api-project-document-file",
    ),
    path(
        "api/projects/<int:project_id>/members/",
        api_projects.project_members,
        name="api-project-members",
    ),
    path(
        "api/projects/<int:project_id>/members/<int:member_id>/",
        api_projects.project_member,
        name="api-project-member",
    ),
    path("api/budget/", api.budget, name="api-budget"),
    path("api/audit/", audit_api.audit_log, name="api-audit"),
    path("api/estimate/", api.estimate, name="api-estimate"),
    # Batch jobs (docs/batch-jobs.md)
    path("batch-jobs/", views.batch_jobs, name="batch-jobs"),
    path("batch-jobs/<int:job_id>/", views.batch_jobs, name="batch-job"),
    path("api/batch-jobs/", batch_api.batch_jobs_collection, name="api-batch-jobs"),
    path("api/batch-jobs/estimate/", batch_api.batch_job_estimate, name="api-batch-estimate"),
    path("api/batch-jobs/<int:job_id>/", batch_api.batch_job_detail, name="api-batch-job"),
    path(
        "api/batch-jobs/<int:job_id>/cancel/", batch_api.batch_job_cancel,
        name="api-batch-job-cancel",
    ),
    path(
        "api/batch-jobs/<int:job_id>/results.csv", batch_api.batch_job_csv,
        name="api-batch-job-csv",
    ),
    path(
        "api/batch-jobs/<int:job_id>/results.jsonl", batch_api.batch_job_jsonl,
        name="api-batch-job-jsonl",
    ),
    path(
        "api/batch-jobs/<int:job_id>/items/<int:item_id>/conversation/",
        batch_api.batch_item_conversation,
        name="api-batch-item-conversation",
    ),
    path("api/batch-documents/", batch_api.batch_documents, name="api-batch-documents"),
]
