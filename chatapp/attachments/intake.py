"""Attachments: the files a user gives a conversation, documents or images.

- ``add_upload`` judges a file by its content, checks and prepares it off the event loop, a
  few at a time, each in a short-lived process with a time and memory limit
  (``uploads/isolation.py``, ``uploads/documents.py``, ``uploads/images.py``), counts its
  tokens, then stores its files and its row together: a refused or failed upload leaves
  nothing behind.
- ``pending_references`` / ``mark_sent``: the composer's attachments join a user message as
  references (ids and facts; the bytes stay in files, never in the database).
- ``for_prompt`` gives ``claude/prompt.py`` the conversation's sent attachments as API blocks,
  within the model's per-request limits; what cannot be sent comes with a note instead. An
  image is sent as the bytes prepared at upload, every time: never re-encoded per request, so
  the conversation stays append-only (its cache and its thinking blocks' binding survive).
- Removing a row (directly, or with its conversation) deletes its files once committed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from chatapp.attachments import documents, images, isolation
from chatapp.attachments.uploads import UploadRejected
from chatapp.claude import messages as claude_messages
from chatapp.claude import prompt
from chatapp.claude.pricing import PriceRates, price_usage
from chatapp.claude.token_bounds import token_guess
from chatapp.claude.types import UpstreamError, Usage
from chatapp.models import (
    Attachment,
    AttachmentKind,
    ClaudeModel,
    Conversation,
    Message,
    Role,
    default_model_id,
)
from chatapp.safety import flags
from chatapp.safety.access import get_pending_attachments

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
            return prompt.image_block(media_type=self.media_type, data=self.prepared)
        data = self.raw if self.media_type == documents.PDF else self.text
        return prompt.document_block(title=self.name, media_type=self.media_type, data=data)


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
    if images.sniff_image(raw):
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
    raw: bytes, name: str, limits: ModelLimits, images_before: int
) -> PreparedUpload:
    # Above 20 images a request takes none longer than 2000 px: an image that will be the 21st
    # or later is made that size now, once, rather than shrunk later in every request.
    image = isolation.run_isolated(
        images.prepare_image, raw, limits.image_tier,
        max_side=images.request_max_side(images_before + 1),
        max_base64_bytes=settings.ANTHROPIC_MAX_IMAGE_BASE64_BYTES,
    )
    return PreparedUpload(
        kind=AttachmentKind.IMAGE, name=name, media_type=image.media_type,
        original_media_type=image.original_media_type, raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(), prepared=image.data, width=image.width,
        height=image.height, tokens=image.tokens,
    )


def _prepare_document(raw: bytes, name: str, limits: ModelLimits) -> PreparedUpload:
    markdown = PurePath(name).suffix.lower() in _MARKDOWN
    document = isolation.run_isolated(
        documents.prepare_document, raw, max_pages=limits.max_pdf_pages,
        model_name=limits.display_name,
        text_media_type="text/markdown" if markdown else documents.TEXT,
    )
    if document.media_type == documents.PDF and _base64_size(len(raw)) > MAX_REQUEST_BYTES:
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
        flag_summary=flags.review_upload_text(document.text),
    )


def prepare_upload(
    raw: bytes, name: str, limits: ModelLimits, *, images_before: int = 0
) -> PreparedUpload:
    """Check and prepare an uploaded file, judged by its content; ``UploadRejected`` if unfit.

    ``images_before``: images the conversation already holds (sent or waiting to be)."""
    if not raw:
        raise UploadRejected("The file is empty.", 400)
    if len(raw) > settings.CHATAPP_MAX_UPLOAD_BYTES:
        raise too_large()
    family = _content_family(raw)
    _check_name(name, family)
    if family == "image":
        return _prepare_image(raw, name, limits, images_before)
    return _prepare_document(raw, name, limits)


def too_large() -> UploadRejected:
    return UploadRejected(
        f"The file is larger than {settings.CHATAPP_MAX_UPLOAD_MB} MB, the most one upload "
        "may be.",
        413,
    )


def _read(upload: UploadedFile) -> bytes:
    if upload.size is not None and upload.size > settings.CHATAPP_MAX_UPLOAD_BYTES:
        raise too_large()
    return b"".join(upload.chunks())


def _base64_size(byte_count: int) -> int:
    return 4 * math.ceil(byte_count / 3)


# --- Uploading -------------------------------------------------------------------------------


def estimate_tokens(upload: PreparedUpload) -> int:
    """A rough count when the API cannot be asked: the text's typical count, 1,500 a PDF page."""
    return token_guess(len(upload.text)) + 1500 * (upload.pages or 0)


async def _count_tokens(upload: PreparedUpload, limits: ModelLimits) -> int:
    request = prompt.count_request(model=limits.id, block=upload.block())
    try:
        return await claude_messages.count_tokens(request)
    except UpstreamError as exc:
        # Counting is free and only informs the user: an estimate beats losing the upload.
        logger.warning("count_tokens failed for an upload (%s); estimating", exc)
        return estimate_tokens(upload)


def _limits_of(conversation: Conversation) -> ModelLimits:
    model = ClaudeModel.objects.filter(pk=conversation.model).first()
    if model is None:
        model = ClaudeModel.objects.get(pk=default_model_id())
    return ModelLimits.of(model)


def _upload_facts(conversation: Conversation) -> tuple[ModelLimits, int]:
    """The model's limits and how many images the conversation holds (on any branch: an
    upper bound of what a request of it can carry)."""
    held = conversation.attachments.filter(kind=AttachmentKind.IMAGE).count()
    return _limits_of(conversation), held


def _store(
    conversation: Conversation | None, upload: PreparedUpload, owner_id: int | None = None
) -> Attachment:
    attachment = Attachment(
        owner_id=owner_id or conversation.owner_id, conversation=conversation, kind=upload.kind,
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
        delete_files(_file_names(attachment))
        raise
    return attachment


async def add_upload(conversation: Conversation, upload: UploadedFile) -> Attachment:
    """Check, prepare, count and store one uploaded file as a pending attachment.

    Raises ``UploadRejected`` (nothing stored) for a file Claude cannot be sent.
    """
    limits, images_before = await database_sync_to_async(_upload_facts)(conversation)
    prepared = await _prepared(upload, limits, images_before)
    return await database_sync_to_async(_store)(conversation, prepared)


async def add_document(owner_id: int, upload: UploadedFile, model: ClaudeModel) -> Attachment:
    """A document uploaded outside any conversation (the Batch jobs page), checked against
    ``model``'s limits. Raises ``UploadRejected`` (nothing stored) for an image or unfit file."""
    prepared = await _prepared(upload, ModelLimits.of(model))
    if prepared.kind != AttachmentKind.DOCUMENT:
        raise UploadRejected(
            "Batch jobs read documents (PDF, Word, text or Markdown), not images.", 415
        )
    return await database_sync_to_async(_store)(None, prepared, owner_id)


async def _prepared(
    upload: UploadedFile, limits: ModelLimits, images_before: int = 0
) -> PreparedUpload:
    raw = await sync_to_async(_read, thread_sensitive=False)(upload)
    name = display_name(upload.name)
    # A few at a time (a small file can take hundreds of MB to prepare), each in a process of
    # its own with a time and memory limit (uploads/isolation.py).
    async with isolation.preparation_slot():
        prepared = await sync_to_async(prepare_upload, thread_sensitive=False)(
            raw, name, limits, images_before=images_before
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


# --- Sending ---------------------------------------------------------------------------------


def reference(attachment: Attachment) -> dict[str, Any]:
    """What a user message stores for an attachment: its id and the facts shown with it."""
    facts = {"media_type": attachment.media_type, "size": attachment.size}
    if attachment.pages is not None:
        facts["pages"] = attachment.pages
    if attachment.width is not None:
        facts.update(width=attachment.width, height=attachment.height)
    return prompt.attachment_reference(attachment.pk, attachment.kind, attachment.name, **facts)


def pending_references(
    conversation: Conversation, ids: Sequence[int]
) -> tuple[list[Attachment], list[dict[str, Any]]]:
    """The composer's attachments for a new message (locked; Http404 for a wrong id) and the
    references to store in it. Call inside the transaction that saves the message."""
    pending = get_pending_attachments(conversation, list(ids)) if ids else []
    return pending, [reference(attachment) for attachment in pending]


def mark_sent(attachments: Sequence[Attachment], message: Message) -> None:
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).update(message=message)


# --- Prompting -------------------------------------------------------------------------------


def _sent_attachments(
    conversation: Conversation, before_message_id: int | None
) -> list[Attachment]:
    """The attachments of the branch on screen (before ``before_message_id``): those its
    questions refer to. A file sent on another branch stays out of the prompt, and an edited
    question's files (kept as references) stay in, whichever version they were uploaded with."""
    sent = conversation.attachments.filter(message__isnull=False)
    if not sent.exists():  # most conversations: no need to read every question of the history
        return []
    questions = conversation.messages.on_screen().filter(role=Role.USER)
    if before_message_id is not None:
        questions = questions.filter(pk__lt=before_message_id)
    referred = {
        block.get("attachment_id")
        for content in questions.values_list("content", flat=True)
        for block in content
        if block.get("type") == prompt.REFERENCE
    }
    # Only the referred rows: a document's row carries its whole text.
    return list(sent.filter(pk__in=referred).order_by("id"))


def _sent_size(attachment: Attachment) -> int:
    """Bytes this attachment adds to a request (base64 for files, UTF-8 for text)."""
    if attachment.kind == AttachmentKind.IMAGE:
        return _base64_size(attachment.prepared.size if attachment.prepared else 0)
    if attachment.media_type == documents.PDF:
        return _base64_size(attachment.size)
    return len(attachment.text.encode())


def media_cap(model: ClaudeModel) -> int:
    """Images and PDF pages one request may carry together ("Too much media: N document pages
    + M images > 100"): 100 on 200K-context models, 600 on the others, which is the catalog's
    ``max_pdf_pages``."""
    return model.max_pdf_pages


@dataclass
class _Room:
    """What is left of one request's limits while attachments are taken in, oldest first."""

    media: int
    bytes: int
    images: int = 0
    large_image: bool = False  # an image taken in has a side over MANY_IMAGES_MAX_SIDE

    def image_refusal(self, attachment: Attachment, size: int) -> str:
        """Why this image cannot join the request ("" if it can), ``size`` its base64 bytes."""
        long_side = max(attachment.width or 0, attachment.height or 0)
        if self.images + 1 > images.MANY_IMAGES and (
            self.large_image or long_side > images.MANY_IMAGES_MAX_SIDE
        ):
            # Shrinking the images already sent would rewrite what was sent.
            return (
                f"beyond {images.MANY_IMAGES} images Claude takes only images of at most "
                f"{images.MANY_IMAGES_MAX_SIDE} px a side, and images already sent in this "
                "conversation are not made smaller. Please start a new conversation for it."
            )
        if size > settings.ANTHROPIC_MAX_IMAGE_BASE64_BYTES:  # stored under a higher limit
            limit = settings.ANTHROPIC_MAX_IMAGE_BASE64_BYTES / 1_000_000
            return f"it is larger than the {limit:g} MB per image Claude accepts here."
        return ""

    def take(self, attachment: Attachment, media: int, size: int) -> None:
        self.media, self.bytes = self.media - media, self.bytes - size
        if attachment.kind == AttachmentKind.IMAGE:
            self.images += 1
            long_side = max(attachment.width or 0, attachment.height or 0)
            self.large_image |= long_side > images.MANY_IMAGES_MAX_SIDE


def _refusal(attachment: Attachment, room: _Room, media: int, size: int,
             model: ClaudeModel) -> str:
    if attachment.kind == AttachmentKind.IMAGE and (why := room.image_refusal(attachment, size)):
        return why
    if media > room.media:
        return (f"with it the request would carry more than {media_cap(model):,} images and "
                f"PDF pages, the most {model.display_name} reads at once.")
    if size > room.bytes:
        return (f"with it the request would be larger than the "
                f"{MAX_REQUEST_BYTES // 2**20} MB Claude accepts.")
    return ""


def _plan(sent: Sequence[Attachment], model: ClaudeModel) -> dict[int, str]:
    """Which attachments fit one request, oldest first: id → "" (sent) or why it is left out.

    Decided from the stored facts alone, so notes can be given without reading any file. An
    attachment's fate never depends on later ones (the conversation is append-only): one sent
    once is sent, byte for byte, in every later request, and one left out of its own turn
    stays out with the same note. Nothing already sent is ever dropped or shrunk to make room.
    """
    room = _Room(media=media_cap(model), bytes=MAX_REQUEST_BYTES)
    plan: dict[int, str] = {}
    for attachment in sent:
        media = 1 if attachment.kind == AttachmentKind.IMAGE else (attachment.pages or 0)
        try:
            size = _sent_size(attachment)
        except OSError:
            plan[attachment.pk] = _unreadable(attachment)
            continue
        why = _refusal(attachment, room, media, size, model)
        if why:
            plan[attachment.pk] = f"The {attachment.kind} “{attachment.name}” was left out: {why}"
        else:
            room.take(attachment, media, size)
            plan[attachment.pk] = ""
    return plan


def _unreadable(attachment: Attachment) -> str:
    return f"The {attachment.kind} “{attachment.name}” could not be read and was left out."


def _block(attachment: Attachment) -> dict[str, Any]:
    """The attachment's API block, read from its files (the same bytes every time: an image is
    its stored prepared bytes, never encoded again for a request)."""
    if attachment.kind == AttachmentKind.IMAGE:
        with attachment.prepared.open("rb") as file:
            data = file.read()
        return prompt.image_block(media_type=attachment.media_type, data=data)
    if attachment.media_type == documents.PDF:
        with attachment.original.open("rb") as file:
            data: bytes | str = file.read()
    else:
        data = attachment.text
    return prompt.document_block(title=attachment.name, media_type=attachment.media_type,
                                 data=data)


def _prompt_attachment(attachment: Attachment, note: str) -> prompt.PromptAttachment:
    kind, name = attachment.kind, attachment.name
    if note:
        return prompt.PromptAttachment(kind, name, note=note)
    try:
        return prompt.PromptAttachment(kind, name, block=_block(attachment))
    except (OSError, UploadRejected):
        logger.exception("attachment %s could not be read", attachment.pk)
        return prompt.PromptAttachment(kind, name, note=_unreadable(attachment))


def for_prompt(
    conversation: Conversation, before_message_id: int, model: ClaudeModel
) -> dict[int, prompt.PromptAttachment]:
    """Every attachment sent in the conversation before that message, by id in upload order,
    as ``claude/prompt.py`` sends it. Synchronous (ORM and file reads): run it off the loop.

    The same attachments always give the same bytes, so the cached prefix survives.
    """
    sent = _sent_attachments(conversation, before_message_id)
    plan = _plan(sent, model)
    return {a.pk: _prompt_attachment(a, plan[a.pk]) for a in sent}


def left_out_notes(conversation: Conversation, model: ClaudeModel) -> list[str]:
    """Notes for the user about sent attachments the next request cannot carry."""
    return [note for note in _plan(_sent_attachments(conversation, None), model).values()
            if note]


# --- Prices shown before sending -------------------------------------------------------------


def question_costs(tokens: int, rates: PriceRates | None) -> tuple[Decimal | None, Decimal | None]:
    """(first question, each later one) for a document of ``tokens``: written to the 5-minute
    cache once, then read from it. None when the model has no price."""
    if rates is None:
        return None, None
    first = price_usage(Usage(cache_write_5m_tokens=tokens), rates).total
    later = price_usage(Usage(cache_read_tokens=tokens), rates).total
    return first, later


# --- Files -----------------------------------------------------------------------------------


def _file_names(attachment: Attachment) -> list[str]:
    return [field.name for field in (attachment.original, attachment.prepared) if field]


def delete_files(names: Sequence[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name)


def delete_files_when_committed(sender: type, instance: Attachment, **kwargs: Any) -> None:
    """post_delete receiver: the files go once the row's deletion is committed (connected in
    ``apps.py``, so a deleted conversation takes its attachments' files with it)."""
    names = _file_names(instance)
    transaction.on_commit(lambda: delete_files(names))
