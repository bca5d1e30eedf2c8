"""Search across one user's conversations: titles and the text of messages.

PostgreSQL answers with full-text search (English stemming, `websearch_to_tsquery` syntax)
over an expression index on the text blocks of a message (migration 0009); SQLite, the
embedded default, matches every word as a case-insensitive substring of the text blocks.
Either way every word must occur, and only the user's own conversations are searched; archived
ones (chatapp/conversations/filing.py) only when asked for.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorField
from django.db import connection
from django.db.models import BooleanField, Func, QuerySet
from django.db.models.expressions import RawSQL

from chatapp.models import Conversation, Message

MAX_QUERY_CHARS = 200
MAX_WORDS = 8
DEFAULT_LIMIT = 30
SNIPPET_CHARS = 160
CONFIG = "english"


class SearchError(ValueError):
    """The query cannot be searched for; the message says why in plain words."""


@dataclass(frozen=True)
class Hit:
    conversation_id: int
    message_id: int | None  # None: the conversation's title matched
    snippet: str
    title: str = ""  # the conversation's
    archived: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "snippet": self.snippet,
            "title": self.title,
            "archived": self.archived,
        }


class MessageTextVector(Func):
    """`to_tsvector` of a message's text blocks. Must stay byte-identical to the index
    expression in migration 0009, or PostgreSQL will not use the index."""

    template = (
        "to_tsvector('english'::regconfig, "
        "jsonb_path_query_array(%(expressions)s, '$[*] ? (@.type == \"text\").text'))"
    )
    output_field = SearchVectorField()


def words_of(query: str) -> list[str]:
    """The words searched for, or SearchError for a query that has none or is too long."""
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(f"Search for at most {MAX_QUERY_CHARS} characters.")
    words = re.findall(r"\w[\w'.-]*", query)
    if not words:
        raise SearchError("Type a word to search for.")
    return words[:MAX_WORDS]


def search(
    user, query: str, limit: int = DEFAULT_LIMIT, include_archived: bool = False
) -> list[Hit]:
    """Matching titles first, then matching messages, newest first; at most ``limit``."""
    words = words_of(query)
    postgres = connection.vendor == "postgresql"
    conversations = Conversation.objects.filter(owner=user)
    if not include_archived:
        conversations = conversations.filter(archived_at__isnull=True)
    titles = _title_matches(conversations, query, words, postgres)[:limit]
    messages = _message_matches(conversations, query, words, postgres)[
        : max(limit - len(titles), 0)
    ]
    hits = [Hit(c.pk, None, c.title, c.title, c.archived_at is not None) for c in titles]
    hits += [
        Hit(m.conversation_id, m.pk, snippet(m.text, words), m.conversation.title,
            m.conversation.archived_at is not None)
        for m in messages
    ]
    return hits


def _title_matches(
    conversations: QuerySet, query: str, words: list[str], postgres: bool
) -> QuerySet:
    rows = conversations.order_by("-updated_at")
    if postgres:
        return rows.annotate(found=SearchVector("title", config=CONFIG)).filter(
            found=SearchQuery(query, config=CONFIG, search_type="websearch")
        )
    for word in words:
        rows = rows.filter(title__icontains=word)
    return rows


def _message_matches(
    conversations: QuerySet, query: str, words: list[str], postgres: bool
) -> QuerySet:
    rows = (
        Message.objects.filter(conversation__in=conversations)
        .select_related("conversation")
        .only("conversation_id", "content", "conversation__title", "conversation__archived_at")
        .order_by("-id")
    )
    if postgres:
        return rows.alias(found=MessageTextVector("content")).filter(
            found=SearchQuery(query, config=CONFIG, search_type="websearch")
        )
    for number, word in enumerate(words):
        rows = rows.alias(**{f"has_{number}": _sqlite_text_contains(word)}).filter(
            **{f"has_{number}": True}
        )
    return rows


def _sqlite_text_contains(word: str) -> RawSQL:
    """Whether one of the message's text blocks contains ``word`` (json_each: the stored JSON
    escapes non-ASCII letters, so a LIKE on the raw column would miss them)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return RawSQL(
        "EXISTS (SELECT 1 FROM json_each(chatapp_message.content) AS block "
        "WHERE json_extract(block.value, '$.type') = 'text' "
        "AND json_extract(block.value, '$.text') LIKE %s ESCAPE '\\')",
        (f"%{escaped}%",),
        output_field=BooleanField(),
    )


def snippet(text: str, words: list[str], width: int = SNIPPET_CHARS) -> str:
    """A piece of ``text`` around the first word found (stems match too: "stream" finds
    "streaming"), on one line, with … where it was cut."""
    flat = " ".join(text.split())
    lower = flat.lower()
    found = [lower.find(stem.lower()) for stem in map(_stem, words)]
    start = min((place for place in found if place >= 0), default=0)
    begin = max(start - width // 3, 0)
    piece = flat[begin : begin + width]
    return ("…" if begin else "") + piece + ("…" if begin + width < len(flat) else "")


def _stem(word: str) -> str:
    """Roughly what English stemming keeps of a word, enough to place a snippet."""
    for ending in ("ing", "ies", "es", "ed", "s"):
        if len(word) > len(ending) + 2 and word.lower().endswith(ending):
            return word[: -len(ending)]
    return word
