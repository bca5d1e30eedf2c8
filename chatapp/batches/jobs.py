"""Batch jobs: one prompt asked of many documents through the Message Batches API, at half
price, for work that need not be answered now.

This module creates and cancels jobs, estimates what one will cost, counts its progress and
builds each item's request; ``batch_poller`` does the talking to the API in the background.
Synchronous (ORM and file reads): call it through ``database_sync_to_async`` from async code.
"""

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import BadRequest
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from chatapp.attachments import prompting, storage
from chatapp.attachments.documents import PDF
from chatapp.batches.policy import JobLimits
from chatapp.billing import money, prices, reservations
from chatapp.claude import batches as claude_batches
from chatapp.claude import prompt as claude_prompt
from chatapp.claude import prompt_attachments, thinking
from chatapp.claude.pricing import pick_band, price_usage
from chatapp.claude.types import Usage
from chatapp.models import (
    Attachment,
    BatchItem,
    BatchItemStatus,
    BatchJob,
    BatchJobStatus,
    ClaudeModel,
    Conversation,
    Message,
    MessageStatus,
    Role,
)
from chatapp.safety import model_access
from chatapp.safety.access import get_documents_for_user

# About four characters a token: good enough to estimate, never used to bill.
CHARS_PER_TOKEN = 4
# Role markers and block framing around one request's text, in tokens.
REQUEST_OVERHEAD_TOKENS = 10
BATCH_ADVICE = (
    "Choose fewer documents, a smaller maximum answer length or a cheaper model, or ask an "
    "administrator to raise your budget."
)


class JobFinished(Exception):
    """The job has already ended: there is nothing left to cancel."""


# ---------------------------------------------------------------- limits and input


def output_limit(model: ClaudeModel) -> int:
    """The largest max_tokens a batch may ask of ``model`` (the long-output beta included)."""
    return max(model.max_output_tokens, model.batch_max_output_tokens)


def uses_long_output(job: BatchJob, model: ClaudeModel) -> bool:
    """More than the interactive limit: sent with the long-output beta."""
    return job.max_tokens > model.max_output_tokens


def _active_model(model_id: str, user_id: int) -> ClaudeModel:
    active = ClaudeModel.objects.filter(pk=model_id, is_active=True)
    model = model_access.allowed(active, user_id).first()
    if model is None:
        refused = active.first()  # a second read only to word the refusal
        if refused is not None:
            raise BadRequest(model_access.not_allowed_message(refused))
        raise BadRequest(f"Unknown model {model_id[:100]!r}.")
    return model


def _checked_max_tokens(model: ClaudeModel, max_tokens: int | None, limits: JobLimits) -> int:
    if max_tokens is None:
        return min(limits.default_max_tokens, model.max_output_tokens)
    limit = output_limit(model)
    if not 1 <= max_tokens <= limit:
        raise BadRequest(
            f"max_tokens must be between 1 and {limit:,} for {model.display_name} in a batch."
        )
    return max_tokens


def _checked_prompt(prompt: str, limits: JobLimits) -> str:
    if not prompt.strip():
        raise BadRequest("Write the prompt to ask of every document.")
    if len(prompt) > limits.max_prompt_chars:
        raise BadRequest(f"The prompt is too long: at most {limits.max_prompt_chars:,} characters.")
    return prompt


def _checked_documents(user, document_ids: list[int], limits: JobLimits) -> list[Attachment]:
    if not document_ids:
        raise BadRequest("Choose at least one document.")
    documents = get_documents_for_user(user, document_ids)
    if len(documents) > limits.max_documents:
        raise BadRequest(f"A batch job takes at most {limits.max_documents:,} documents.")
    return documents


# ---------------------------------------------------------------- creating and cancelling


def create_job(
    user, *, document_ids: list[int], prompt: str, model_id: str, limits: JobLimits,
    max_tokens: int | None = None,
) -> BatchJob:
    """A job with one item per document, waiting for the poller to submit it.

    Nothing is sent from here: the request returns at once and a poller (started with the
    server) submits the job in the background. The job's worst case (the estimate at batch
    prices) is reserved against the owner's budget in the same transaction, each document
    holding its own share; ``budgets.BudgetExceeded`` (nothing saved) when it does not fit.
    """
    model = _active_model(model_id, user.pk)
    max_tokens = _checked_max_tokens(model, max_tokens, limits)
    prompt = _checked_prompt(prompt, limits)
    documents = _checked_documents(user, document_ids, limits)
    usages = _item_usages(model, prompt, max_tokens, documents)
    shares = _costs(model.pk, usages, batch=True) or [Decimal(0)] * len(documents)
    with transaction.atomic():
        job = BatchJob.objects.create(
            owner=user, prompt=prompt, model=model.pk, max_tokens=max_tokens
        )
        BatchItem.objects.bulk_create(
            BatchItem(job=job, document=document, document_name=document.name, reserved_usd=share)
            for document, share in zip(documents, shares, strict=True)
        )
        # Last, so a refusal rolls the job back (and the spend row is locked only briefly).
        reservations.reserve(
            user.pk,
            sum(shares, Decimal(0)),
            subject="This batch job",
            advice=BATCH_ADVICE,
            batch_job_id=job.pk,
        )
    return job


def settle_reservation(job_id: int) -> None:
    """Hold only what the job's documents still processing may cost: run it in the transaction
    that records outcomes (answered, cancelled, expired, errored). Idempotent, so pollers
    that restart or race never give back a share twice; nothing is held once the job ends."""
    with transaction.atomic():
        held = reservations.lock_batch_reservation(job_id)
        if held is None:
            return
        still = BatchItem.objects.filter(job_id=job_id, status=BatchItemStatus.PROCESSING)
        reservations.shrink(held, still.aggregate(total=Sum("reserved_usd"))["total"] or Decimal(0))


def request_cancel(job: BatchJob) -> BatchJob:
    """Stop a job: what is not yet sent is cancelled at once, the poller cancels the rest.

    Answers already finished are kept (and billed), as the API does.
    """
    now = timezone.now()
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().get(pk=job.pk)
        if job.status == BatchJobStatus.ENDED:
            raise JobFinished
        job.cancel_requested_at = job.cancel_requested_at or now
        job.status = BatchJobStatus.CANCELLING
        job.save(update_fields=["cancel_requested_at", "status"])
        job.items.filter(batch__isnull=True, status=BatchItemStatus.PROCESSING).update(
            status=BatchItemStatus.CANCELLED, completed_at=now
        )
        settle_reservation(job.pk)
    finish_if_done(job.pk)
    job.refresh_from_db()
    return job


def finish_if_done(job_id: int) -> bool:
    """End the job once no item is still processing; True if it ended now."""
    if BatchItem.objects.filter(job_id=job_id, status=BatchItemStatus.PROCESSING).exists():
        return False
    settle_reservation(job_id)  # whatever path ended the last item, nothing stays held
    ended = (
        BatchJob.objects.filter(pk=job_id)
        .exclude(status=BatchJobStatus.ENDED)
        .update(status=BatchJobStatus.ENDED, ended_at=timezone.now(), submit_lease_until=None)
    )
    return bool(ended)


# ---------------------------------------------------------------- progress


def with_progress(jobs: QuerySet[BatchJob]) -> QuerySet[BatchJob]:
    """Jobs annotated with their documents' count in each state and what their answers cost
    so far (one query for a whole list)."""
    per_status = {
        f"count_{status}": Count("items", filter=Q(items__status=status))
        for status in BatchItemStatus.values
    }
    return jobs.annotate(**per_status, cost_so_far=Sum("items__cost_usd"))


def counts(job: BatchJob) -> dict[str, int]:
    """How many of the job's documents are in each state (from ``with_progress`` if there)."""
    if not hasattr(job, "count_processing"):
        job = with_progress(BatchJob.objects.filter(pk=job.pk)).get()
    return {status: getattr(job, f"count_{status}") for status in BatchItemStatus.values}


# ---------------------------------------------------------------- requests


def document_block(document: Attachment) -> dict[str, Any]:
    """The ``document`` block one item sends, built as a conversation sends it."""
    if document.media_type == PDF:
        with document.original.open("rb") as handle:
            data: bytes | str = handle.read()
    else:
        data = document.text
    return prompt_attachments.document_block(
        title=document.name, media_type=document.media_type, data=data
    )


def _sent_params(model: ClaudeModel, max_tokens: int) -> dict[str, Any]:
    """``max_tokens`` and the thinking-off fields each item is sent with: a batch answer has no
    thinking control, and the 5.x models think unless told not to (a model that cannot stop
    thinking gets room for it on top of the answer's ``max_tokens``, reserved as output)."""
    return thinking.side_call_params(model.capabilities, max_tokens, output_limit(model))


def thinking_off(job: BatchJob) -> dict[str, Any]:
    """``_sent_params`` of a job (read once for all its items)."""
    model = ClaudeModel.objects.get(pk=job.model)
    return _sent_params(model, job.max_tokens)


def item_request(
    job: BatchJob, item: BatchItem, thinking_params: dict[str, Any] | None = None
) -> claude_batches.BatchRequest:
    """The request for one item (reads its document: run off the event loop).
    ``thinking_params``: ``thinking_off(job)``, read once for all of a job's items."""
    if item.document is None:
        raise FileNotFoundError(item.document_name)
    params = claude_batches.item_request(
        model=job.model,
        max_tokens=job.max_tokens,
        prompt=job.prompt,
        document=document_block(item.document),
        thinking=thinking_off(job) if thinking_params is None else thinking_params,
    )
    return claude_batches.BatchRequest(item.custom_id, params)


# ---------------------------------------------------------------- estimate


@dataclass(frozen=True)
class Estimate:
    documents: int
    input_tokens: int
    max_output_tokens: int
    batch_usd: Decimal | None
    interactive_usd: Decimal | None

    def as_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "input_tokens": self.input_tokens,
            "max_output_tokens": self.max_output_tokens,
            "batch_usd": money.format_usd(self.batch_usd),
            "interactive_usd": money.format_usd(self.interactive_usd),
        }


def _tokens_of(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _document_tokens(document: Attachment) -> int:
    return document.tokens or _tokens_of(document.text)


def _item_usages(
    model: ClaudeModel, prompt: str, max_tokens: int, documents: list[Attachment]
) -> list[Usage]:
    """Each document's request at its most expensive: the reply at the full ``max_tokens``,
    nothing read from the cache, and the shared prefix (system + instructions) written to the
    1-hour cache by every request, where it is long enough to be cached at all."""
    prefix = _tokens_of(claude_batches.BATCH_SYSTEM + prompt) + REQUEST_OVERHEAD_TOKENS
    cached = prefix if prefix >= model.min_cacheable_tokens else 0
    max_tokens = _sent_params(model, max_tokens)["max_tokens"]
    return [
        Usage(
            input_tokens=prefix - cached + _document_tokens(document),
            cache_write_1h_tokens=cached,
            output_tokens=max_tokens,
        )
        for document in documents
    ]


def _costs(model_id: str, usages: list[Usage], *, batch: bool) -> list[Decimal] | None:
    """Each usage priced as its own request (tiered prices look at each request's prompt);
    None for a model without a price."""
    bands = prices.rates_in_force(model_id)
    if not bands:
        return None
    return [price_usage(u, pick_band(bands, u.prompt_tokens), batch=batch).total for u in usages]


def estimate(
    user, *, document_ids: list[int], prompt: str, model_id: str, limits: JobLimits,
    max_tokens: int | None = None,
) -> Estimate:
    """The most a job can cost, at batch prices and as interactive requests (the batch figure
    is what creating the job reserves against the budget)."""
    model = _active_model(model_id, user.pk)
    max_tokens = _checked_max_tokens(model, max_tokens, limits)
    documents = _checked_documents(user, document_ids, limits) if document_ids else []
    usages = _item_usages(model, prompt, max_tokens, documents)

    def total(batch: bool) -> Decimal | None:
        costs = _costs(model.pk, usages, batch=batch)
        return None if costs is None else sum(costs, Decimal(0))

    return Estimate(
        documents=len(documents),
        input_tokens=sum(usage.prompt_tokens for usage in usages),
        max_output_tokens=sum(usage.output_tokens for usage in usages),
        batch_usd=total(batch=True),
        interactive_usd=total(batch=False),
    )


# ---------------------------------------------------------------- follow-up questions


def _copy_for(document: Attachment, conversation: Conversation) -> Attachment:
    """The document as an attachment of ``conversation``: a copy with files of its own, so
    removing either never takes the other's file away."""
    copy = Attachment(
        owner_id=document.owner_id, conversation=conversation, kind=document.kind,
        name=document.name, media_type=document.media_type,
        original_media_type=document.original_media_type, sha256=document.sha256,
        size=document.size, pages=document.pages, tokens=document.tokens, text=document.text,
    )
    try:
        with document.original.open("rb") as handle:
            copy.original.save("original", ContentFile(handle.read()), save=False)
        copy.save()
    except BaseException:
        storage.delete_files([copy.original.name] if copy.original else [])
        raise
    return copy


def open_as_conversation(item: BatchItem) -> Conversation:
    """A new conversation holding the job's question with the document and this answer, so the
    user can ask follow-up questions with the document in view."""
    if item.status != BatchItemStatus.SUCCEEDED:
        raise BadRequest("Only an answered document can be opened as a conversation.")
    job = item.job
    title = f"{item.document_name}: {job.prompt}"
    with transaction.atomic():
        conversation = Conversation.objects.create(
            owner_id=job.owner_id, model=job.model, title=title[:200]
        )
        document = _copy_for(item.document, conversation) if item.document else None
        references = [prompting.reference(document)] if document else []
        question = Message.objects.create(
            conversation=conversation, role=Role.USER,
            content=[*references, *claude_prompt.user_content(job.prompt)],
        )
        if document is not None:
            prompting.mark_sent([document], question)
        Message.objects.create(
            conversation=conversation, role=Role.ASSISTANT, status=MessageStatus.COMPLETE,
            model=job.model, reply_to=question, content=item.content,
            stop_reason=item.stop_reason, upstream_id=item.upstream_id,
            **{field: getattr(item, field) for field in _USAGE_FIELDS},
        )
    return conversation


_USAGE_FIELDS = (
    "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "cache_read_tokens", "cost_usd", "cost_breakdown",
)
