"""Attachments going out: the composer's attachments join a user message as references (ids
and facts; the bytes stay in files), and ``for_prompt`` gives ``claude/prompt.py`` the
conversation's sent attachments as API blocks within the model's per-request limits; what
cannot be sent comes with a note instead. An image is sent as the bytes prepared at upload,
every time: never re-encoded per request, so the conversation stays append-only (its cache
and its thinking blocks' binding survive). The deployment's part comes in as a
``PromptPolicy`` (``policy.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from chatapp.attachments import documents, image_sizes, intake
from chatapp.attachments.policy import PromptPolicy
from chatapp.attachments.uploads import UploadRejected
from chatapp.claude import prompt_attachments
from chatapp.models import (
    Attachment,
    AttachmentKind,
    ClaudeModel,
    Conversation,
    Message,
    Role,
)
from chatapp.safety.access import get_pending_attachments

logger = logging.getLogger(__name__)


# --- Sending ---------------------------------------------------------------------------------


def reference(attachment: Attachment) -> dict[str, Any]:
    """What a user message stores for an attachment: its id and the facts shown with it."""
    facts = {"media_type": attachment.media_type, "size": attachment.size}
    if attachment.pages is not None:
        facts["pages"] = attachment.pages
    if attachment.width is not None:
        facts.update(width=attachment.width, height=attachment.height)
    return prompt_attachments.attachment_reference(
        attachment.pk, attachment.kind, attachment.name, **facts
    )


def pending_references(
    conversation: Conversation, ids: Sequence[int]
) -> tuple[list[Attachment], list[dict[str, Any]]]:
    """The composer's attachments for a new message (locked; Http404 for a wrong id) and the
    references to store in it. Call inside the transaction that saves the message."""
    pending = get_pending_attachments(conversation, list(ids)) if ids else []
    return pending, [reference(attachment) for attachment in pending]


def mark_sent(attachments: Sequence[Attachment], message: Message) -> None:
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).update(message=message)


def project_references(conversation: Conversation) -> list[dict[str, Any]]:
    """References to the documents of the conversation's project as they are now, oldest
    first: they open its first question, so every conversation of the project starts with
    the same bytes (one cache entry serves them all), and a document added or removed later
    changes only the conversations started after it (append-only)."""
    if conversation.project_id is None:
        return []
    shared = Attachment.objects.filter(
        project_id=conversation.project_id, conversation=None, withdrawn_at=None
    )
    return [reference(attachment) for attachment in shared.order_by("id")]


def sent_rows(conversation: Conversation) -> QuerySet[Attachment]:
    """The attachments the conversation's questions may refer to: those sent in it, and its
    project's documents."""
    mine = Q(conversation=conversation, message__isnull=False)
    if conversation.project_id is not None:
        mine |= Q(project_id=conversation.project_id, conversation=None)
    return Attachment.objects.filter(mine)


# --- Prompting -------------------------------------------------------------------------------


def _sent_attachments(
    conversation: Conversation, before_message_id: int | None
) -> list[Attachment]:
    """The attachments of the branch on screen (before ``before_message_id``): those its
    questions refer to. A file sent on another branch stays out of the prompt, and an edited
    question's files (kept as references) stay in, whichever version they were uploaded with."""
    sent = sent_rows(conversation)
    if not sent.exists():  # most conversations: no need to read every question of the history
        return []
    questions = conversation.messages.on_screen().filter(role=Role.USER)
    if before_message_id is not None:
        questions = questions.filter(pk__lt=before_message_id)
    referred = {
        block.get("attachment_id")
        for content in questions.values_list("content", flat=True)
        for block in content
        if block.get("type") == prompt_attachments.REFERENCE
    }
    # Only the referred rows: a document's row carries its whole text.
    return list(sent.filter(pk__in=referred).order_by("id"))


def _sent_size(attachment: Attachment) -> int:
    """Bytes this attachment adds to a request (base64 for files, UTF-8 for text)."""
    if attachment.kind == AttachmentKind.IMAGE:
        return image_sizes.base64_size(attachment.prepared.size if attachment.prepared else 0)
    if attachment.media_type == documents.PDF:
        return image_sizes.base64_size(attachment.size)
    return len(attachment.text.encode())


def media_cap(model: ClaudeModel) -> int:
    """Images and PDF pages one request may carry together ("Too much media: N document pages
    + M images > 100"): 100 on 200K-context models, 600 on the others, which is the catalog's
    ``max_pdf_pages``."""
    return model.max_pdf_pages


# The most of a model's context window a project's documents may take together (their stored
# counts): the rest is the conversation's and the reply's. One beyond it is left out of the first
# question with a note, from the start (append-only), and stays searchable (search_documents).
DOCUMENT_SHARE = 0.75


@dataclass
class _Room:
    """What is left of one request's limits while attachments are taken in, oldest first."""

    media: int
    bytes: int
    tokens: int  # of the context window, for a project's documents
    policy: PromptPolicy
    images: int = 0
    large_image: bool = False  # an image taken in has a side over MANY_IMAGES_MAX_SIDE

    def image_refusal(self, attachment: Attachment, size: int) -> str:
        """Why this image cannot join the request ("" if it can), ``size`` its base64 bytes."""
        long_side = max(attachment.width or 0, attachment.height or 0)
        if self.images + 1 > image_sizes.MANY_IMAGES and (
            self.large_image or long_side > image_sizes.MANY_IMAGES_MAX_SIDE
        ):
            # Shrinking the images already sent would rewrite what was sent.
            return (
                f"beyond {image_sizes.MANY_IMAGES} images Claude takes only images of at most "
                f"{image_sizes.MANY_IMAGES_MAX_SIDE} px a side, and images already sent in this "
                "conversation are not made smaller. Please start a new conversation for it."
            )
        if size > self.policy.max_image_base64_bytes:  # stored under a higher limit
            limit = self.policy.max_image_base64_bytes / 1_000_000
            return f"it is larger than the {limit:g} MB per image Claude accepts here."
        return ""

    def take(self, attachment: Attachment, media: int, size: int) -> None:
        self.media, self.bytes = self.media - media, self.bytes - size
        if attachment.project_id is not None:  # the share is the project's documents' alone
            self.tokens -= attachment.tokens
        if attachment.kind == AttachmentKind.IMAGE:
            self.images += 1
            long_side = max(attachment.width or 0, attachment.height or 0)
            self.large_image |= long_side > image_sizes.MANY_IMAGES_MAX_SIDE


def _refusal(attachment: Attachment, room: _Room, media: int, size: int,
             model: ClaudeModel) -> str:
    if attachment.kind == AttachmentKind.IMAGE and (why := room.image_refusal(attachment, size)):
        return why
    if media > room.media:
        return (f"with it the request would carry more than {media_cap(model):,} images and "
                f"PDF pages, the most {model.display_name} reads at once.")
    if size > room.bytes:
        return (f"with it the request would be larger than the "
                f"{intake.MAX_REQUEST_BYTES // 2**20} MB Claude accepts.")
    # Only a project's documents: a conversation's own were always sent whole, and leaving one
    # out now would rewrite what an existing conversation already sent.
    shared = attachment.project_id is not None
    if shared and attachment.kind == AttachmentKind.DOCUMENT and attachment.tokens > room.tokens:
        search = " Claude can still search it for passages (search_documents)." if (
            room.policy.documents_searchable) else ""
        return (f"with it the documents would fill more than {DOCUMENT_SHARE:.0%} of the "
                f"{model.context_window:,}-token context window of {model.display_name}, "
                f"leaving too little for the conversation.{search}")
    return ""


def _plan(
    sent: Sequence[Attachment], model: ClaudeModel, policy: PromptPolicy
) -> dict[int, str]:
    """Which attachments fit one request, oldest first: id → "" (sent) or why it is left out.

    Decided from the stored facts alone, so notes can be given without reading any file. An
    attachment's fate never depends on later ones (the conversation is append-only): one sent
    once is sent, byte for byte, in every later request, and one left out of its own turn
    stays out with the same note. Nothing already sent is ever dropped or shrunk to make room.
    """
    room = _Room(media=media_cap(model), bytes=intake.MAX_REQUEST_BYTES,
                 tokens=int(model.context_window * DOCUMENT_SHARE), policy=policy)
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
        return prompt_attachments.image_block(media_type=attachment.media_type, data=data)
    if attachment.media_type == documents.PDF:
        with attachment.original.open("rb") as file:
            data: bytes | str = file.read()
    else:
        data = attachment.text
    return prompt_attachments.document_block(
        title=attachment.name, media_type=attachment.media_type, data=data
    )


def _prompt_attachment(attachment: Attachment, note: str) -> prompt_attachments.PromptAttachment:
    kind, name = attachment.kind, attachment.name
    if note:
        return prompt_attachments.PromptAttachment(kind, name, note=note)
    try:
        return prompt_attachments.PromptAttachment(kind, name, block=_block(attachment))
    except (OSError, UploadRejected):
        logger.exception("attachment %s could not be read", attachment.pk)
        return prompt_attachments.PromptAttachment(kind, name, note=_unreadable(attachment))


def for_prompt(
    conversation: Conversation, before_message_id: int, model: ClaudeModel, policy: PromptPolicy
) -> dict[int, prompt_attachments.PromptAttachment]:
    """Every attachment sent in the conversation before that message, by id in upload order,
    as ``claude/prompt.py`` sends it. Synchronous (ORM and file reads): run it off the loop.

    The same attachments always give the same bytes, so the cached prefix survives.
    """
    sent = _sent_attachments(conversation, before_message_id)
    plan = _plan(sent, model, policy)
    return {a.pk: _prompt_attachment(a, plan[a.pk]) for a in sent}


def left_out_notes(
    conversation: Conversation, model: ClaudeModel, policy: PromptPolicy
) -> list[str]:
    """Notes for the user about sent attachments the next request cannot carry."""
    plan = _plan(_sent_attachments(conversation, None), model, policy)
    return [note for note in plan.values() if note]
