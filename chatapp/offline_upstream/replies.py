"""The deterministic replies of the offline upstream and how they are cut into tokens.

A reply visibly reads the request (it quotes the last user question, counts documents,
images and turns, names the model) and always carries a paragraph and a fenced code block, so
the app's markdown rendering gets exercised.  The same request always gets the same text: every
choice is seeded by a hash of the model, system and messages.  Nothing is escaped: whatever the
user typed is quoted as is.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any

from .citations import choose_citation
from .models import ModelSpec
from .prompt import as_blocks, count_kind
from .reading import asks_for_title, title_for
from .tokens import compact_json

TOKENS_PHRASE = re.compile(r"\[\[tokens:(\d+)\]\]")
# Makes the reply say what the request asked for beyond its messages (system prompt,
# temperature, max_tokens): settings can then be checked from what a user sees.
SHOW_REQUEST_PHRASE = "[[show_request]]"
# A guard against `[[tokens:999999999]]` filling the server's memory.
MAX_REQUESTED_TOKENS = 200_000
QUOTE_CHARS = 120

SENTENCES = (
    "Nothing here came from a real model: this text is assembled from the request alone.",
    "Ask the same question again and you will get exactly the same answer.",
    "The reply streams at a configurable pace, so the interface can be watched as it fills in.",
    "Token counts follow the offline upstream's documented counter, not Claude's tokenizer.",
    "Prompt caching is simulated, with five-minute and one-hour entries.",
    "Faults can be injected to see how the app copes with rate limits and dropped streams.",
    "Markdown in this reply includes **bold**, *italics* and `inline code`.",
    "A long reply can be requested with a tokens phrase in the question.",
    "Usage is reported on both sides: input in message_start, output in message_delta.",
    "The connection, the pacing and the wire format follow the real Messages API.",
)

CLOSING = "That is all the offline upstream has to say about it."


@dataclass(frozen=True)
class ReplyBlock:
    """One text block of a reply; a cited claim is a block of its own, as the API sends it."""

    text: str
    citations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ReplyPlan:
    text: str  # what is actually sent
    output_tokens: int
    stop_reason: str
    stop_sequence: str | None
    seed: int
    blocks: tuple[ReplyBlock, ...] = ()  # `text` cut into text blocks (empty: one block)
    # Whole blocks around the text (see agentic.py): thinking before, tool calls after.
    before: tuple[dict[str, Any], ...] = ()
    after: tuple[dict[str, Any], ...] = ()
    thinking_tokens: int = 0  # of output_tokens, how many were thinking

    def content_blocks(self) -> list[ReplyBlock]:
        return list(self.blocks) or [ReplyBlock(self.text)]


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message that has text (tool results and attachments left
    out): in a tool loop, the question the rounds answer."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            texts = [
                str(block.get("text", ""))
                for block in as_blocks(message.get("content"))
                if block.get("type") == "text"
            ]
            if texts:
                return " ".join(texts)
    return ""


def request_seed(body: dict[str, Any]) -> int:
    """A number that depends on exactly what the model would see."""
    material = compact_json([body.get("model"), body.get("system"), body.get("messages")])
    return int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big")


def split_tokens(text: str, chars_per_token: int) -> list[str]:
    """Output "tokens": runs of up to `chars_per_token` non-space characters, each carrying the
    whitespace before it.  They concatenate back to the exact text."""
    pattern = rf"\s*\S{{1,{chars_per_token}}}|\s+"
    return re.findall(pattern, text)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _quote(text: str) -> str:
    flat = " ".join(text.split())  # one line, so the quote stays one markdown paragraph
    if not flat:
        return "(no text)"
    return flat if len(flat) <= QUOTE_CHARS else flat[:QUOTE_CHARS] + "…"


def _where(citation: dict[str, Any]) -> str:
    if citation["type"] == "page_location":
        return f"page {citation['start_page_number']}"
    if citation["type"] == "char_location":
        return f"characters {citation['start_char_index']}–{citation['end_char_index']}"
    return f"block {citation['start_block_index'] + 1}"


def compose_blocks(body: dict[str, Any], model_id: str, seed: int) -> list[ReplyBlock]:
    """The full reply before any max_tokens or stop-sequence cut, as its text blocks: with
    citable documents, the quoted passage is a block of its own carrying its citation."""
    question = last_user_text(body)
    if asks_for_title(body):
        # A title call (the app's side call) is answered with a title, not a reply.
        return [ReplyBlock(title_for(question))]
    asked = f'You asked: "{_quote(question)}"\n\n'
    rest = compose_text(body, model_id, seed).removeprefix(asked)
    citation = choose_citation(body, question)
    if citation is None:
        return [ReplyBlock(asked + rest)]
    title = citation.get("document_title") or f"document {citation['document_index'] + 1}"
    return [
        ReplyBlock(f"{asked}From “{title}”: "),
        ReplyBlock(f"“{' '.join(citation['cited_text'].split())}”", (citation,)),
        ReplyBlock(f" ({_where(citation)})\n\n{rest}"),
    ]


def _cut_blocks(blocks: list[ReplyBlock], text: str) -> tuple[ReplyBlock, ...]:
    """The blocks re-cut to ``text``: a prefix of their text (a cut), or their text with more
    after it (filler, which joins the last block)."""
    cut, position = [], 0
    for number, block in enumerate(blocks, start=1):
        end = len(text) if number == len(blocks) else position + len(block.text)
        part, position = text[position:end], min(end, len(text))
        if part:
            cut.append(ReplyBlock(part, block.citations))
    return tuple(cut)


def compose_text(body: dict[str, Any], model_id: str, seed: int) -> str:
    """The full reply's text (without citations) before any cut."""
    rng = random.Random(seed)
    turns = len(body.get("messages") or [])
    documents, images = count_kind(body, "document"), count_kind(body, "image")
    sentences = " ".join(rng.sample(SENTENCES, 3))
    return (
        f'You asked: "{_quote(last_user_text(body))}"\n\n'
        f"{_request_settings(body)}"
        f"This is the offline upstream answering as **{model_id}**. "
        f"The conversation has {_plural(turns, 'turn')}, and the request contains "
        f"{_plural(documents, 'document block')} and {_plural(images, 'image block')}:\n\n"
        f"- turns: {turns}\n- documents: {documents}\n- images: {images}\n\n"
        f"{sentences}\n\n"
        "```python\n"
        "def offline_reply() -> dict:\n"
        f'    return {{"model": "{model_id}", "turns": {turns}, "seed": "{seed:016x}"}}\n'
        "```\n\n"
        f"{CLOSING}"
    )


def _request_settings(body: dict[str, Any]) -> str:
    """With SHOW_REQUEST_PHRASE in the question: a paragraph naming the request's settings."""
    if SHOW_REQUEST_PHRASE not in last_user_text(body):
        return ""
    system_text = " ".join(
        str(block.get("text", ""))
        for block in as_blocks(body.get("system")) if block.get("type") == "text"
    )
    quoted = f'"{_quote(system_text)}"' if system_text.strip() else "none"
    temperature = body.get("temperature")
    shown = "default" if temperature is None else f"{temperature:g}"
    return (f"Request settings: system prompt {quoted}; temperature {shown}; "
            f"max_tokens {body.get('max_tokens')}.\n\n")


def _sized(pieces: list[str], wanted: int, seed: int, chars_per_token: int) -> list[str]:
    """Exactly `wanted` tokens: filler paragraphs appended, or the reply cut short."""
    rng = random.Random(seed ^ wanted)
    while len(pieces) < wanted:
        paragraph = "\n\n" + " ".join(rng.sample(SENTENCES, 4))
        pieces = pieces + split_tokens(paragraph, chars_per_token)
    return pieces[:wanted]


def _stop_at_sequence(
    text: str, pieces: list[str], stop_sequences: list[str]
) -> tuple[str, int, str] | None:
    """(text before the sequence, tokens generated up to its end, the sequence) or None."""
    hits = [(text.find(seq), seq) for seq in stop_sequences if seq and seq in text]
    if not hits:
        return None
    start, sequence = min(hits)
    end, generated = start + len(sequence), 0
    for piece in pieces:
        generated += 1
        end -= len(piece)
        if end <= 0:
            break
    return text[:start], generated, sequence


def _prefill(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(the request without a final all-text assistant message, that message's text).

    A prefilled request is answered with the rest of the reply the same request without the
    prefill gets, so a reply continued after a broken stream reads as if it never broke."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    blocks = as_blocks(last.get("content")) if last.get("role") == "assistant" else []
    if not blocks or any(block.get("type") != "text" for block in blocks):
        return body, ""
    return {**body, "messages": messages[:-1]}, "".join(str(b.get("text", "")) for b in blocks)


def plan_reply(body: dict[str, Any], model: ModelSpec) -> ReplyPlan:
    """The text to send and why it stops: end_turn, max_tokens or stop_sequence."""
    body, prefix = _prefill(body)
    seed = request_seed(body)
    cpt = model.chars_per_token
    blocks = compose_blocks(body, model.id, seed)
    pieces = split_tokens("".join(block.text for block in blocks), cpt)
    wanted = TOKENS_PHRASE.search(last_user_text(body))
    if wanted and not asks_for_title(body):  # a title stays a title
        pieces = _sized(pieces, min(int(wanted.group(1)), MAX_REQUESTED_TOKENS), seed, cpt)
    whole = "".join(pieces)
    if prefix and whole.startswith(prefix):
        pieces = split_tokens(whole[len(prefix):], cpt)
        blocks = [ReplyBlock("".join(pieces))]
    stop_reason = "end_turn"
    max_tokens = int(body.get("max_tokens", len(pieces)))
    if len(pieces) > max_tokens:
        pieces, stop_reason = pieces[:max_tokens], "max_tokens"
    text = "".join(pieces)
    stop = _stop_at_sequence(text, pieces, list(body.get("stop_sequences") or []))
    if stop:
        cut, generated, sequence = stop
        return ReplyPlan(cut, generated, "stop_sequence", sequence, seed,
                         _cut_blocks(blocks, cut))
    return ReplyPlan(text, len(pieces), stop_reason, None, seed, _cut_blocks(blocks, text))


def delta_texts(text: str, chars_per_token: int, seed: int) -> list[tuple[str, int]]:
    """The reply cut into text deltas of 1–3 tokens each, as (text, tokens)."""
    pieces = split_tokens(text, chars_per_token)
    rng = random.Random(seed)
    deltas, index = [], 0
    while index < len(pieces):
        size = rng.randint(1, 3)
        chunk = pieces[index : index + size]
        deltas.append(("".join(chunk), len(chunk)))
        index += size
    return deltas
