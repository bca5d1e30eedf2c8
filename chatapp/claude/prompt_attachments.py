"""Attachments in a prompt, pure functions: the reference a user message stores for a file,
the document and image blocks sent for it (citations on), what stands in for a file that is
removed or cannot be sent, and the count_tokens request that prices one block.
"""

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The stored stand-in for an attachment in a user message's content (never sent as such).
REFERENCE = "attachment"
PDF = "application/pdf"


@dataclass(frozen=True)
class PromptAttachment:
    """An attachment as a prompt sends it: its API block, or why it cannot be sent."""

    kind: str  # "document" or "image"
    name: str
    block: dict[str, Any] | None = None
    note: str = ""


def attachment_reference(attachment_id: int, kind: str, name: str, **facts: Any) -> dict:
    """The block stored in a user message for an attachment (its bytes stay in files)."""
    return {"type": REFERENCE, "attachment_id": attachment_id, "kind": kind, "name": name,
            **facts}


def document_block(*, title: str, media_type: str, data: bytes | str) -> dict[str, Any]:
    """A document with citations on: a PDF as base64, anything else as its text."""
    if media_type == PDF:
        encoded = base64.b64encode(data).decode("ascii")
        source = {"type": "base64", "media_type": PDF, "data": encoded}
    else:
        source = {"type": "text", "media_type": "text/plain", "data": data}
    return {"type": "document", "source": source, "title": title, "citations": {"enabled": True}}


def image_block(*, media_type: str, data: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                        "data": encoded}}


def note_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": f"[{text}]"}


def resolved(block: dict[str, Any], attachments: Mapping[int, PromptAttachment]) -> list[dict]:
    """What a stored reference becomes in its turn: the document or image itself, where it was
    attached (a document moved to an earlier turn would rewrite what was already sent)."""
    found = attachments.get(block.get("attachment_id"))
    if found is None:
        return [note_block(f"The {block.get('kind', 'file')} “{block.get('name', '')}” attached "
                      "here has been removed.")]
    if found.block is None:
        return [note_block(found.note)]
    return [found.block]



def count_request(*, model: str, block: dict[str, Any]) -> dict[str, Any]:
    """A count_tokens request for one content block (an attachment's cost in tokens)."""
    return {"model": model, "messages": [{"role": "user", "content": [block]}]}

