"""The offline upstream's token counter: deterministic, cheap, and documented.

It is not Claude's tokenizer (nobody outside Anthropic has that); it only has to be stable and
in the right ballpark, and to be the *same* counter for `count_tokens`, for message usage and
for prompt-cache accounting.  The rules (also in docs/offline-upstream.md):

- text: ceil(characters / c), c = 4 for models before 4.7 and 3 from 4.7 on (their tokenizer
  yields ~30% more tokens);
- every message adds MESSAGE_OVERHEAD tokens (its role markers), counted on its first block;
- image: ⌈w/28⌉ × ⌈h/28⌉ after the model tier's downscale, at most the tier's per-image cap;
  an image given by url or file id (which the offline upstream cannot fetch) costs the cap;
- PDF (base64): per page, its extracted text as above plus PDF_PAGE_IMAGE_TOKENS for the page
  image; text documents by their text; url/file documents UNFETCHED_DOCUMENT_TOKENS;
  a document's title and context count as text;
- tool definition: its name, description and input schema as compact JSON text;
- tool_use: name + compact JSON input; tool_result: its content (string or blocks);
- thinking: its text; anything else: its compact JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from . import media
from .models import IMAGE_TIERS, ModelSpec

MESSAGE_OVERHEAD = 3
# A US-letter page rendered at 96 dpi (816×1056 px) costs ⌈816/28⌉ × ⌈1056/28⌉ = 30 × 38 tokens.
PDF_PAGE_IMAGE_TOKENS = 30 * 38
UNFETCHED_DOCUMENT_TOKENS = 2000
IMAGE_PATCH_PX = 28


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def text_tokens(text: str, model: ModelSpec) -> int:
    return -(-len(text) // model.chars_per_token)


def downscaled_size(width: int, height: int, tier: str) -> tuple[int, int]:
    """The size the model actually sees: long edge and pixel count capped by its image tier."""
    limits = IMAGE_TIERS[tier]
    scale = min(
        1.0,
        limits["max_edge"] / max(width, height),
        math.sqrt(limits["max_pixels"] / (width * height)),
    )
    return max(1, int(width * scale)), max(1, int(height * scale))


def image_size_tokens(width: int, height: int, model: ModelSpec) -> int:
    scaled_w, scaled_h = downscaled_size(width, height, model.image_tier)
    patches = -(-scaled_w // IMAGE_PATCH_PX) * -(-scaled_h // IMAGE_PATCH_PX)
    return min(patches, IMAGE_TIERS[model.image_tier]["max_tokens"])


def image_tokens(block: dict[str, Any], model: ModelSpec) -> int:
    source = block.get("source") or {}
    if source.get("type") != "base64":
        return IMAGE_TIERS[model.image_tier]["max_tokens"]
    _media_type, width, height = media.image_info(source.get("data", ""))
    return image_size_tokens(width, height, model)


def _document_source_tokens(source: dict[str, Any], model: ModelSpec) -> int:
    kind = source.get("type")
    if kind == "base64":
        pages = media.pdf_page_texts(source.get("data", ""))
        return sum(text_tokens(page, model) + PDF_PAGE_IMAGE_TOKENS for page in pages)
    if kind == "text":
        return text_tokens(str(source.get("data", "")), model)
    if kind == "content":
        return content_tokens(source.get("content", ""), model)
    return UNFETCHED_DOCUMENT_TOKENS


def document_tokens(block: dict[str, Any], model: ModelSpec) -> int:
    extras = sum(text_tokens(str(block.get(key) or ""), model) for key in ("title", "context"))
    return extras + _document_source_tokens(block.get("source") or {}, model)


def content_tokens(content: Any, model: ModelSpec) -> int:
    """A message's or tool result's content: a plain string or a list of blocks."""
    if isinstance(content, str):
        return text_tokens(content, model)
    if isinstance(content, list):
        return sum(block_tokens(block, model) for block in content if isinstance(block, dict))
    return 0


def block_tokens(block: dict[str, Any], model: ModelSpec) -> int:
    """The tokens of one content block (excluding the per-message overhead)."""
    kind = block.get("type")
    if kind == "text":
        return text_tokens(str(block.get("text", "")), model)
    if kind == "image":
        return image_tokens(block, model)
    if kind == "document":
        return document_tokens(block, model)
    if kind == "tool_use":
        text = str(block.get("name", "")) + compact_json(block.get("input", {}))
        return text_tokens(text, model)
    if kind == "tool_result":
        return content_tokens(block.get("content", ""), model)
    if kind == "thinking":
        return text_tokens(str(block.get("thinking", "")), model)
    payload = {key: value for key, value in block.items() if key != "cache_control"}
    return text_tokens(compact_json(payload), model)


def tool_tokens(tool: dict[str, Any], model: ModelSpec) -> int:
    payload = {key: tool[key] for key in ("name", "description", "input_schema") if key in tool}
    if not payload:  # a server tool such as web_search: count what was sent
        payload = {key: value for key, value in tool.items() if key != "cache_control"}
    return text_tokens(compact_json(payload), model)
