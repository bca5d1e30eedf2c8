"""Every object is fetched through its owner. Views and consumers use only these helpers."""

from typing import Any

from django.http import Http404

from chatapp.models import (
    Attachment,
    AttachmentKind,
    BatchItem,
    BatchJob,
    Conversation,
    Message,
    PromptPreset,
)
from chatapp.safety.inputs import is_id


class NotYours(Exception):
    """The object exists but belongs to someone else (sockets say so with 4403)."""


def _no_such(what: str, object_id: Any) -> None:
    """Http404 for an id no row can have (e.g. 30 digits: the query itself would overflow)."""
    if not is_id(object_id):
        raise Http404(f"No such {what}")


def get_conversation_for_user(user, conversation_id: int) -> Conversation:
    """The user's conversation, or Http404 whether it is missing or someone else's."""
    _no_such("conversation", conversation_id)
    try:
        return Conversation.objects.get(pk=conversation_id, owner=user)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None


def get_conversation_for_socket(user, conversation_id: int) -> Conversation:
    """Like ``get_conversation_for_user`` but tells "not yours" apart from "missing"."""
    _no_such("conversation", conversation_id)
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404("No such conversation")
    if conversation.owner_id != user.pk:
        raise NotYours
    return conversation


def get_message_in_conversation(conversation: Conversation, message_id: int) -> Message:
    _no_such("message", message_id)
    try:
        return conversation.messages.get(pk=message_id)
    except Message.DoesNotExist:
        raise Http404("No such message") from None


def get_attachment_for_user(user, conversation_id: int, attachment_id: int) -> Attachment:
    """The user's attachment in that conversation, or Http404 (missing or someone else's)."""
    _no_such("conversation", conversation_id)
    _no_such("attachment", attachment_id)
    try:
        return Attachment.objects.get(
            pk=attachment_id, conversation_id=conversation_id, conversation__owner=user
        )
    except Attachment.DoesNotExist:
        raise Http404("No such attachment") from None


def get_pending_attachments(conversation: Conversation, ids: list[int]) -> list[Attachment]:
    """The conversation's attachments waiting in the composer, in the order given, locked for
    the transaction that sends them; Http404 names the first id that is not one of them."""
    rows = Attachment.objects.select_for_update().filter(
        pk__in=[i for i in ids if is_id(i)], conversation=conversation,
        owner_id=conversation.owner_id,
    )
    found = {row.pk: row for row in rows}
    for attachment_id in ids:
        row = found.get(attachment_id)
        if row is None:
            raise Http404(f"Attachment {attachment_id} is not in this conversation.")
        if not row.is_pending:
            raise Http404(f"Attachment {attachment_id} was already sent.")
    return [found[attachment_id] for attachment_id in dict.fromkeys(ids)]


def get_documents_for_user(user, ids: list[int]) -> list[Attachment]:
    """The user's uploaded documents, in the order given without repeats; Http404 names the
    first id that is not one of them (missing, an image, a project's, or someone else's)."""
    found = Attachment.objects.filter(
        pk__in=[i for i in ids if is_id(i)], owner=user, kind=AttachmentKind.DOCUMENT,
        project__isnull=True,
    ).in_bulk()
    for document_id in ids:
        if document_id not in found:
            raise Http404(f"No such document: {document_id}.")
    return [found[document_id] for document_id in dict.fromkeys(ids)]


def get_batch_job_for_user(user, job_id: int) -> BatchJob:
    _no_such("batch job", job_id)
    try:
        return BatchJob.objects.get(pk=job_id, owner=user)
    except BatchJob.DoesNotExist:
        raise Http404("No such batch job") from None


def get_item_in_batch_job(job: BatchJob, item_id: int) -> BatchItem:
    _no_such("document in this batch job", item_id)
    try:
        return job.items.get(pk=item_id)
    except BatchItem.DoesNotExist:
        raise Http404("No such document in this batch job") from None


def get_preset_for_user(user, preset_id: Any) -> PromptPreset:
    """The user's prompt preset, or Http404 (missing, someone else's, or not an id)."""
    _no_such("preset", preset_id)
    try:
        return PromptPreset.objects.get(pk=preset_id, owner=user)
    except PromptPreset.DoesNotExist:
        raise Http404("No such preset") from None
