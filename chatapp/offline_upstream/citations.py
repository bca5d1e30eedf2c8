"""Citations for requests whose documents have them enabled, shaped as the API sends them.

The reply cites one passage: the sentence of any citable document that shares the most words
with the last question (the first sentence of the first document when none does). Its location
is given the way the API gives it for the document's kind:

- a PDF (base64): ``page_location`` with 1-based ``start_page_number`` and an exclusive
  ``end_page_number``;
- a text document: ``char_location`` with ``start_char_index`` and an exclusive
  ``end_char_index`` into the document's text;
- a content document: ``content_block_location`` with block indexes (end exclusive).

``document_index`` counts every document block of the request, in order, from 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import media
from .prompt import all_message_blocks, as_blocks

MAX_CITED_CHARS = 300
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_WORD = re.compile(r"[a-z0-9]{4,}")


@dataclass(frozen=True)
class Passage:
    text: str
    location: dict[str, Any]  # the citation without cited_text


def _sentences(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every sentence with some text in it."""
    for match in _SENTENCE.finditer(text):
        start = match.start() + len(match.group()) - len(match.group().lstrip())
        end = match.end()
        if text[start:end].strip():
            yield start, min(end, start + MAX_CITED_CHARS)


def _pdf_passages(source: dict[str, Any]) -> Iterator[Passage]:
    try:
        pages = media.pdf_page_texts(source.get("data", ""))
    except media.MediaError:
        return
    for number, page in enumerate(pages, start=1):
        for start, end in _sentences(page):
            location = {"type": "page_location", "start_page_number": number,
                        "end_page_number": number + 1}
            yield Passage(page[start:end], location)


def _text_passages(source: dict[str, Any]) -> Iterator[Passage]:
    text = str(source.get("data", ""))
    for start, end in _sentences(text):
        location = {"type": "char_location", "start_char_index": start, "end_char_index": end}
        yield Passage(text[start:end], location)


def _content_passages(source: dict[str, Any]) -> Iterator[Passage]:
    for index, block in enumerate(as_blocks(source.get("content"))):
        text = str(block.get("text", "")).strip()
        if block.get("type") == "text" and text:
            location = {"type": "content_block_location", "start_block_index": index,
                        "end_block_index": index + 1}
            yield Passage(text[:MAX_CITED_CHARS], location)


_PASSAGES = {"base64": _pdf_passages, "text": _text_passages, "content": _content_passages}


def _citable_passages(body: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any], Passage]]:
    documents = [b for b in all_message_blocks(body) if b.get("type") == "document"]
    for index, document in enumerate(documents):
        if not (document.get("citations") or {}).get("enabled"):
            continue
        source = document.get("source") or {}
        read = _PASSAGES.get(source.get("type"))
        for passage in read(source) if read else ():
            yield index, document, passage


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def choose_citation(body: dict[str, Any], question: str) -> dict[str, Any] | None:
    """The citation the reply makes, or None when no document can be cited."""
    wanted = _words(question)
    best: tuple[int, int, dict[str, Any], Passage] | None = None
    for index, document, passage in _citable_passages(body):
        score = len(wanted & _words(passage.text))
        if best is None or score > best[0]:
            best = (score, index, document, passage)
    if best is None:
        return None
    _score, index, document, passage = best
    return {
        "type": passage.location["type"],
        "cited_text": passage.text,
        "document_index": index,
        "document_title": document.get("title"),
        **{k: v for k, v in passage.location.items() if k != "type"},
    }
