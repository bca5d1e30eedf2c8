"""Every object is fetched through its owner. Views and consumers use only these helpers."""

from django.http import Http404

from chatapp.models import Conversation, Message


class NotYours(Exception):
    """The object exists but belongs to someone else (sockets say so with 4403)."""


def get_conversation_for_user(user, conversation_id: int) -> Conversation:
    """The user's conversation, or Http404 whether it is missing or someone else's."""
    try:
        return Conversation.objects.get(pk=conversation_id, owner=user)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None


def get_conversation_for_socket(user, conversation_id: int) -> Conversation:
    """Like ``get_conversation_for_user`` but tells "not yours" apart from "missing"."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404("No such conversation")
    if conversation.owner_id != user.pk:
        raise NotYours
    return conversation


def get_message_in_conversation(conversation: Conversation, message_id: int) -> Message:
    try:
        return conversation.messages.get(pk=message_id)
    except Message.DoesNotExist:
        raise Http404("No such message") from None
