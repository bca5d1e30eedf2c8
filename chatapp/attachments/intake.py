"""Attachments coming in: a file judged by its content, checked and prepared off the event
loop, a few at a time, each in a short-lived process with a time and memory limit
(``isolation.py``, ``documents.py``, ``images.py``), its tokens counted, then its files and its
row stored together (``storage.py``): a refused or failed upload leaves nothing behind. The
deployment's sizes and content checks come in as an ``UploadPolicy`` (``policy.py``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile

from chatapp.attachments import documents, image_formats, images, isolation, storage
from chatapp.attachments.image_sizes import base64_size, request_max_side
from chatapp.attachments.policy import UploadPolicy
from chatapp.attachments.uploads import UploadRejected
from chatapp.claude import messages as claude_messages
from chatapp.claude import prompt_attachments
from chatapp.claude.pricing import PriceRates, price_usage
from chatapp.claude.token_bounds import token_guess
from chatapp.claude.types import UpstreamError, Usage
from chatapp.models import (
    Attachment,
    AttachmentKind,
    ClaudeModel,
    Conversation,
    Project,
)
from chatapp.safety import flags

logger = logging.getLogger(__name__)

# The Messages API's limit on one request: every document and image of a prompt together.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_NAME_CHARS = 255

# What a file name claims, by extension; the content has the last word (see _check_name).
_NAME_FAMILIES = {
    **dict.fromkeys((".pdf",), "pdf"),
    **dict.fromkeys((".docx",), "docx"),
    **dict.fromkeys((".txt", ".text", ".md", ".markdown"), "text"),
    **dict.fromkeys(
        (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif",
         ".avif"),
        "image",
    ),
}
_CONTENT_FAMILIES = {documents.PDF: "pdf", documents.DOCX: "docx", documents.TEXT: "text"}
_FAMILY_WORDS = {"pdf": "a PDF", "docx": "a Word document", "text": "text",
                 "image": "an image"}
_MARKDOWN = {".md", ".markdown"}


@dataclass(frozen=True)
class PreparedUpload:
    """An accepted file, ready to be stored (everything but its token count for documents)."""

    kind: str
    name: str
    media_type: str
    original_media_type: str
    raw: bytes
    sha256: str
    text: str = ""
    pages: int | None = None
    prepared: bytes = b""  # the bytes sent, when they differ from the original (images)
    width: int | None = None
    height: int | None = None
    tokens: int = 0
    # What the content checks found in the text (flagged only; chatapp/safety/flags.py).
    flag_summary: list[dict[str, Any]] = field(default_factory=list)

    def block(self) -> dict[str, Any]:
        """The API block this attachment is sent as."""
        if self.kind == AttachmentKind.IMAGE:
            return prompt_attachments.image_block(media_type=self.media_type, data=self.prepared)
        data = self.raw if self.media_type == documents.PDF else self.text
        return prompt_attachments.document_block(
            title=self.name, media_type=self.media_type, data=data
        )


@dataclass(frozen=True)
class ModelLimits:
    """What the conversation's model accepts, read from the catalog before leaving the loop."""

    id: str
    display_name: str
    context_window: int
    image_tier: str
    max_pdf_pages: int

    @classmethod
    def of(cls, model: ClaudeModel) -> ModelLimits:
        return cls(model.pk, model.display_name, model.context_window, model.image_tier,
                   model.max_pdf_pages)


# --- Recognising and preparing a file (pure work on bytes) -----------------------------------


def display_name(raw_name: str | None) -> str:
    """The name to show: the last path part, without control characters, never empty."""
    name = re.split(r"[\\/]", raw_name or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    if not name.strip("."):  # "", "." and ".." name nothing
        return "attachment"
    return name[:MAX_NAME_CHARS]


def _content_family(raw: bytes) -> str | None:
    if image_formats.sniff_image(raw):
        return "image"
    return _CONTENT_FAMILIES.get(documents.sniff_document(raw) or "")


def _check_name(name: str, family: str | None) -> None:
    """A name that promises one kind of file while the content is another is refused: the
    user most likely picked the wrong file, and silently sending it would surprise them."""
    claimed = _NAME_FAMILIES.get(PurePath(name).suffix.lower())
    if claimed and family and claimed != family:
        raise UploadRejected(
            f"“{name}” is named like {_FAMILY_WORDS[claimed]} but contains "
            f"{_FAMILY_WORDS[family]}. Please attach the right file, or rename it.",
            415,
        )


def _prepare_image(
    raw: bytes, name: str, limits: ModelLimits, images_before: int, max_base64_bytes: int
) -> PreparedUpload:
    # Above 20 images a request takes none longer than 2000 px: an image that will be the 21st
    # or later is made that size now, once, rather than shrunk later in every request.
    image = isolation.run_isolated(
        images.prepare_image, raw, limits.image_tier,
        max_side=request_max_side(images_before + 1),
        max_base64_bytes=max_base64_bytes,
    )
    return PreparedUpload(
        kind=AttachmentKind.IMAGE, name=name, media_type=image.media_type,
        original_media_type=image.original_media_type, raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(), prepared=image.data, width=image.width,
        height=image.height, tokens=image.tokens,
    )


def _prepare_document(
    raw: bytes, name: str, limits: ModelLimits, policy: UploadPolicy
) -> PreparedUpload:
    markdown = PurePath(name).suffix.lower() in _MARKDOWN
    document = isolation.run_isolated(
        documents.prepare_document, raw, max_pages=limits.max_pdf_pages,
        model_name=limits.display_name,
        text_media_type="text/markdown" if markdown else documents.TEXT,
    )
    if document.media_type == documents.PDF and base64_size(len(raw)) > MAX_REQUEST_BYTES:
        raise UploadRejected(
            f"This PDF is {len(raw) / 2**20:.1f} MB; encoded for sending it would be over the "
            f"{MAX_REQUEST_BYTES // 2**20} MB one request to Claude may carry. Please "
            "compress it or split it.",
            413,
        )
    return PreparedUpload(
        kind=AttachmentKind.DOCUMENT, name=name, media_type=document.media_type,
        original_media_type=document.original_media_type, raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(), text=document.text, pages=document.pages,
        # Here, off the event loop and off the database thread: a long text takes a while.
        flag_summary=flags.review_upload_text(document.text, policy.content),
    )


def prepare_upload(
    raw: bytes, name: str, limits: ModelLimits, policy: UploadPolicy, *, images_before: int = 0
) -> PreparedUpload:
    """Check and prepare an uploaded file, judged by its content; ``UploadRejected`` if unfit.

    ``images_before``: images the conversation already holds (sent or waiting to be)."""
    if not raw:
        raise UploadRejected("The file is empty.", 400)
    if len(raw) > policy.max_upload_bytes:
        raise too_large(policy.max_upload_mb)
    family = _content_family(raw)
    _check_name(name, family)
    if family == "image":
        return _prepare_image(raw, name, limits, images_before, policy.max_image_base64_bytes)
    return _prepare_document(raw, name, limits, policy)


def too_large(max_upload_mb: int) -> UploadRejected:
    """The refusal of a file over the upload limit (``CHATAPP_MAX_UPLOAD_MB``)."""
    return UploadRejected(
        f"The file is larger than {max_upload_mb} MB, the most one upload may be.",
        413,
    )


def _read(upload: UploadedFile, policy: UploadPolicy) -> bytes:
    if upload.size is not None and upload.size > policy.max_upload_bytes:
        raise too_large(policy.max_upload_mb)
    return b"".join(upload.chunks())


# --- Uploading -------------------------------------------------------------------------------


def estimate_tokens(upload: PreparedUpload) -> int:
    """A rough count when the API cannot be asked: the text's typical count, 1,500 a PDF page."""
    return token_guess(len(upload.text)) + 1500 * (upload.pages or 0)


async def _count_tokens(upload: PreparedUpload, limits: ModelLimits) -> int:
    request = prompt_attachments.count_request(model=limits.id, block=upload.block())
    try:
        return await claude_messages.count_tokens(request)
    except UpstreamError as exc:
        # Counting is free and only informs the user: an estimate beats losing the upload.
        logger.warning("count_tokens failed for an upload (%s); estimating", exc)
        return estimate_tokens(upload)


def _limits_of(conversation: Conversation, default_model: str) -> ModelLimits:
    model = ClaudeModel.objects.filter(pk=conversation.model).first()
    if model is None:
        model = ClaudeModel.objects.get(pk=default_model)
    return ModelLimits.of(model)


def _upload_facts(conversation: Conversation, default_model: str) -> tuple[ModelLimits, int]:
    """The model's limits and how many images the conversation holds (on any branch: an
    upper bound of what a request of it can carry)."""
    held = conversation.attachments.filter(kind=AttachmentKind.IMAGE).count()
    return _limits_of(conversation, default_model), held


def store(
    conversation: Conversation | None, upload: PreparedUpload, owner_id: int | None = None,
    *, project: Project | None = None,
) -> Attachment:
    """The prepared upload's files and its row, together: on any failure, neither."""
    attachment = Attachment(
        owner_id=owner_id or conversation.owner_id, conversation=conversation, project=project,
        kind=upload.kind,
        name=upload.name, media_type=upload.media_type,
        original_media_type=upload.original_media_type, sha256=upload.sha256,
        size=len(upload.raw), pages=upload.pages, width=upload.width, height=upload.height,
        tokens=upload.tokens, text=upload.text,
        flag_summary=upload.flag_summary,
    )
    try:
        attachment.original.save("original", ContentFile(upload.raw), save=False)
        if upload.prepared:
            attachment.prepared.save("prepared", ContentFile(upload.prepared), save=False)
        attachment.save()
    except BaseException:
        storage.delete_files(storage.file_names(attachment))
        raise
    return attachment



async def add_upload(
    conversation: Conversation, upload: UploadedFile, policy: UploadPolicy
) -> Attachment:
    """Check, prepare, count and store one uploaded file as a pending attachment (against
    the policy's default model's limits if the conversation's model left the catalog).

    Raises ``UploadRejected`` (nothing stored) for a file Claude cannot be sent.
    """
    limits, images_before = await database_sync_to_async(_upload_facts)(
        conversation, policy.default_model
    )
    prepared = await _prepared(upload, limits, policy, images_before)
    return await database_sync_to_async(store)(conversation, prepared)


async def add_document(
    owner_id: int, upload: UploadedFile, model: ClaudeModel, policy: UploadPolicy
) -> Attachment:
    """A document uploaded outside any conversation (the Batch jobs page), checked against
    ``model``'s limits. Raises ``UploadRejected`` (nothing stored) for an image or unfit file."""
    prepared = await _prepared(upload, ModelLimits.of(model), policy)
    if prepared.kind != AttachmentKind.DOCUMENT:
        raise UploadRejected(
            "Batch jobs read documents (PDF, Word, text or Markdown), not images.", 415
        )
    return await database_sync_to_async(store)(None, prepared, owner_id)


def _project_facts(project: Project, default_model: str) -> tuple[ModelLimits, int]:
    """The default model's limits (a project has no model of its own; its conversations
    choose theirs) and how many images the project holds."""
    held = project.documents.filter(kind=AttachmentKind.IMAGE).count()
    return ModelLimits.of(ClaudeModel.objects.get(pk=default_model)), held


async def add_project_document(
    project: Project, upload: UploadedFile, policy: UploadPolicy
) -> Attachment:
    """A project's document or image (chatapp/projects/), checked, prepared and counted like
    a conversation's upload against the default model's limits, and stored as the project
    owner's with no conversation. Raises ``UploadRejected`` (nothing stored) for an unfit
    file."""
    limits, images_before = await database_sync_to_async(_project_facts)(
        project, policy.default_model
    )
    prepared = await _prepared(upload, limits, policy, images_before)
    return await database_sync_to_async(store)(
        None, prepared, project.owner_id, project=project
    )


async def _prepared(
    upload: UploadedFile, limits: ModelLimits, policy: UploadPolicy, images_before: int = 0
) -> PreparedUpload:
    raw = await sync_to_async(_read, thread_sensitive=False)(upload, policy)
    name = display_name(upload.name)
    # A few at a time (a small file can take hundreds of MB to prepare), each in a process of
    # its own with a time and memory limit (uploads/isolation.py).
    async with isolation.preparation_slot():
        prepared = await sync_to_async(prepare_upload, thread_sensitive=False)(
            raw, name, limits, policy, images_before=images_before
        )
    if prepared.kind == AttachmentKind.DOCUMENT:
        prepared = replace(prepared, tokens=await _count_tokens(prepared, limits))
        if prepared.tokens > limits.context_window:
            raise UploadRejected(
                f"This document is about {prepared.tokens:,} tokens; {limits.display_name} "
                f"reads at most {limits.context_window:,} at once. Please attach a part of it.",
                400,
            )
    return prepared

# --- Prices shown before sending -------------------------------------------------------------


def question_costs(tokens: int, rates: PriceRates | None) -> tuple[Decimal | None, Decimal | None]:
    """(first question, each later one) for a document of ``tokens``: written to the 5-minute
    cache once, then read from it. None when the model has no price."""
    if rates is None:
        return None, None
    first = price_usage(Usage(cache_write_5m_tokens=tokens), rates).total
    later = price_usage(Usage(cache_read_tokens=tokens), rates).total
    return first, later
