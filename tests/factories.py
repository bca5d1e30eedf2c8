"""Plain helpers that make the objects tests need."""

import itertools

from django.contrib.auth import get_user_model

from chatapp.models import Conversation, Message, MessageStatus, Role

_numbers = itertools.count(1)
PASSWORD = "correct horse battery staple"


def logged_in(user, **client_options):
    """A test client signed in as ``user``."""
    from django.test import Client

    client = Client(**client_options)
    client.force_login(user)
    return client


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


def make_text_document(owner, text: str = "A short contract.", name: str = "doc.txt", **fields):
    """A text document the user uploaded (its file under MEDIA_ROOT, like a real upload)."""
    import hashlib
    import math

    from django.core.files.base import ContentFile

    from chatapp.models import Attachment, AttachmentKind

    raw = text.encode()
    document = Attachment(
        owner=owner, kind=AttachmentKind.DOCUMENT, name=name, media_type="text/plain",
        original_media_type="text/plain", sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw), text=text, **{"tokens": math.ceil(len(text) / 4), **fields},
    )
    document.original.save("original", ContentFile(raw), save=False)
    document.save()
    return document
