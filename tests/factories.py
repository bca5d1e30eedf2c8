"""Plain helpers that make the objects tests need."""

import itertools

from django.contrib.auth import get_user_model

from chatapp.models import Conversation, Message, MessageStatus, Role

_numbers = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(username: str | None = None, **fields):
    username = username or f"user{next(_numbers)}"
    return get_user_model().objects.create_user(username, password=PASSWORD, **fields)


def make_conversation(owner=None, **fields) -> Conversation:
    fields.setdefault("model", "claude-sonnet-4-6")
    return Conversation.objects.create(owner=owner or make_user(), **fields)


def make_exchange(conversation: Conversation, question: str, answer: str, **reply_fields):
    """A user message and its finished reply."""
    asked = Message.objects.create(
        conversation=conversation, role=Role.USER, content=[{"type": "text", "text": question}]
    )
    reply_fields.setdefault("status", MessageStatus.COMPLETE)
    answered = Message.objects.create(
        conversation=conversation,
        role=Role.ASSISTANT,
        model=conversation.model,
        reply_to=asked,
        content=[{"type": "text", "text": answer}] if answer else [],
        **reply_fields,
    )
    return asked, answered
