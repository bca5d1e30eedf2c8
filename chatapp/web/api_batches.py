"""JSON endpoints of batch jobs (docs/protocol.md): parse, authorise, delegate.

The page and scripts use the same doors. Nothing here talks to Claude: a new job is stored and
the batch poller submits it in the background.
"""

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from chatapp import audit
from chatapp.attachments import intake
from chatapp.batches import exports as batch_exports
from chatapp.batches import jobs as batch_jobs
from chatapp.billing import budgets
from chatapp.conversations.presenters import batch_document_json, batch_item_json, batch_job_json
from chatapp.models import Attachment, AttachmentKind, BatchJob, ClaudeModel
from chatapp.operations import metrics
from chatapp.policies.attachments import upload_policy
from chatapp.policies.batches import job_limits
from chatapp.policies.conversations import default_model_id
from chatapp.policies.safety import rate_limits
from chatapp.safety import ratelimits
from chatapp.safety.access import get_batch_job_for_user, get_item_in_batch_job
from chatapp.web.endpoints import api_endpoint, json_error, read_json

MAX_LISTED = 200


def _id_list(data: dict[str, Any]) -> list[int]:
    ids = data.get("document_ids")
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise BadRequest("document_ids must be a list of document ids.")
    return ids


def _job_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a job (or an estimate) from a request body, type-checked."""
    prompt, model = data.get("prompt", ""), data.get("model", default_model_id())
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be text.")
    if not isinstance(model, str):
        raise BadRequest("model must be a model id.")
    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        raise BadRequest("max_tokens must be a whole number.")
    return {
        "document_ids": _id_list(data),
        "prompt": prompt,
        "model_id": model,
        "max_tokens": max_tokens,
    }


def _summary(job: BatchJob) -> dict[str, Any]:
    """The job as JSON, from a job annotated by ``batch_jobs.with_progress``."""
    return batch_job_json(job, batch_jobs.counts(job), job.cost_so_far)


def _job_for(user, job_id: int) -> BatchJob:
    get_batch_job_for_user(user, job_id)  # 404 unless it is the user's
    return batch_jobs.with_progress(BatchJob.objects.filter(pk=job_id)).get()


@api_endpoint("GET", "POST")
def batch_jobs_collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            job = batch_jobs.create_job(
                request.user, **_job_fields(read_json(request)), limits=job_limits()
            )
        except budgets.BudgetExceeded:
            metrics.budget_refused("batch_job")
            raise  # 402 in plain words (api_endpoint)
        audit.record(audit.AuditAction.BATCH_JOB_CREATE, request, target=job,
                     detail={"model": job.model, "documents": job.items.count()})
        return JsonResponse(_summary(_job_for(request.user, job.pk)), status=201)
    jobs = batch_jobs.with_progress(BatchJob.objects.filter(owner=request.user))
    newest = jobs.order_by("-created_at", "-id")[:MAX_LISTED]
    return JsonResponse({"jobs": [_summary(job) for job in newest]})


@api_endpoint("POST")
def batch_job_estimate(request: HttpRequest) -> HttpResponse:
    estimate = batch_jobs.estimate(
        request.user, **_job_fields(read_json(request)), limits=job_limits()
    )
    return JsonResponse(estimate.as_json())


@api_endpoint("GET")
def batch_job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_for(request.user, job_id)
    body = _summary(job)
    body["items"] = [batch_item_json(item) for item in job.items.order_by("id")]
    return JsonResponse(body)


@api_endpoint("POST")
def batch_job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_batch_job_for_user(request.user, job_id)
    try:
        batch_jobs.request_cancel(job)
    except batch_jobs.JobFinished:
        return json_error("This job has already finished; there is nothing left to cancel.", 409)
    audit.record(audit.AuditAction.BATCH_JOB_CANCEL, request, target=job)
    return JsonResponse(_summary(_job_for(request.user, job_id)))


def _download(lines, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@api_endpoint("GET")
def batch_job_csv(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_batch_job_for_user(request.user, job_id)
    audit.record(audit.AuditAction.BATCH_JOB_DOWNLOAD, request, target=job,
                 detail={"format": "csv"})
    return _download(
        batch_exports.csv_lines(job), "text/csv; charset=utf-8", f"batch-job-{job.pk}.csv"
    )


@api_endpoint("GET")
def batch_job_jsonl(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_batch_job_for_user(request.user, job_id)
    audit.record(audit.AuditAction.BATCH_JOB_DOWNLOAD, request, target=job,
                 detail={"format": "jsonl"})
    return _download(
        batch_exports.jsonl_lines(job), "application/x-ndjson", f"batch-job-{job.pk}.jsonl"
    )


@api_endpoint("POST")
def batch_item_conversation(request: HttpRequest, job_id: int, item_id: int) -> HttpResponse:
    """Open an answer as a new conversation with its document, to ask follow-up questions."""
    job = get_batch_job_for_user(request.user, job_id)
    item = get_item_in_batch_job(job, item_id)
    conversation = batch_jobs.open_as_conversation(item)
    return JsonResponse(
        {"id": conversation.pk, "url": f"/c/{conversation.pk}/"}, status=201
    )


def _documents_of(user) -> dict[str, Any]:
    # A project's documents are reached through the project only (chatapp/projects/access.py).
    rows = Attachment.objects.filter(
        owner=user, kind=AttachmentKind.DOCUMENT, project__isnull=True
    )
    return {"documents": [batch_document_json(d) for d in rows.order_by("-created_at")[:1000]]}


def _model_for_upload(model_id: str | None) -> ClaudeModel:
    """Uploads are checked against the model the page has chosen (page limits differ)."""
    model = ClaudeModel.objects.filter(pk=model_id or "", is_active=True).first()
    return model or ClaudeModel.objects.get(pk=default_model_id())


async def _upload(request: HttpRequest, user) -> HttpResponse:
    await ratelimits.spend(user.pk, "upload", rate_limits())  # 429 past the limit (api_endpoint)
    # Parsing the form may read a spooled temporary file: not on the event loop. An
    # oversized body never gets here (config/limits.py answers 413 first).
    form, files = await sync_to_async(lambda: (request.POST, request.FILES))()
    upload = files.get("file")
    if upload is None:
        return json_error("Send the file in a form field named “file”.", 400)
    model = await database_sync_to_async(_model_for_upload)(form.get("model"))
    document = await intake.add_document(  # UploadRejected: 4xx
        user.pk, upload, model, upload_policy()
    )
    await audit.arecord(audit.AuditAction.FILE_UPLOAD, request, user=user, target=document,
                        detail={"batch_document": True, "bytes": document.size})
    return JsonResponse(batch_document_json(document), status=201)


@api_endpoint("GET", "POST")
async def batch_documents(request: HttpRequest) -> HttpResponse:
    """The user's documents to choose from (uploaded here or in a chat); POST uploads one
    more (multipart field ``file``), belonging to no conversation."""
    user = await request.auser()
    if request.method == "POST":
        return await _upload(request, user)
    return JsonResponse(await database_sync_to_async(_documents_of)(user))
