"""What is decided about a reply before its first byte is sent (``MessagePlan``): its ids,
model, usage, composed reply, diagnostics; and the Message objects made from it (the whole
reply, or an empty one stopped by a refusal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cache import CacheUsage
from .faults import Fault
from .models import ModelSpec
from .replies import ReplyPlan
from .stamps import StreamStamps


@dataclass
class MessagePlan:
    """Everything decided about a reply before the first byte is sent."""

    message_id: str
    request_id: str
    model: ModelSpec
    usage: CacheUsage
    reply: ReplyPlan
    diagnostics: dict[str, Any] | None = None
    stamps: StreamStamps | None = None  # write times of its text deltas, when asked for
    # Blocks the binding check dropped, reported with the thinking-binding beta (else None).
    input_transformations: list[dict[str, str]] | None = None

    def message(
        self, *, content: list[dict[str, Any]], output_tokens: int, **stop: Any
    ) -> dict[str, Any]:
        """The Message object; `stop` holds stop_reason, stop_sequence and stop_details."""
        body: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model.id,
            "content": content,
            "stop_reason": stop.get("stop_reason"),
            "stop_sequence": stop.get("stop_sequence"),
        }
        if stop.get("stop_details"):
            body["stop_details"] = stop["stop_details"]
        body["usage"] = {
            **self.usage.as_usage(),
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        if stop.get("thinking_tokens"):  # thinking is billed as output; the API says how much
            body["usage"]["output_tokens_details"] = {"thinking_tokens": stop["thinking_tokens"]}
        if self.diagnostics:
            body["diagnostics"] = self.diagnostics
        if self.input_transformations is not None:
            body["input_transformations"] = self.input_transformations
        return body

    def whole_message(self) -> dict[str, Any]:
        """The finished reply as one Message (a plain request's answer, a batch result)."""
        reply = self.reply
        return self.message(
            content=[
                *reply.before,
                *[
                    {"type": "text", "text": block.text,
                     **({"citations": list(block.citations)} if block.citations else {})}
                    for block in reply.content_blocks()
                    if block.text
                ],
                *reply.after,
            ],
            output_tokens=reply.output_tokens, thinking_tokens=reply.thinking_tokens,
            stop_reason=reply.stop_reason, stop_sequence=reply.stop_sequence,
        )

    def refused_message(self, fault: Fault) -> dict[str, Any]:
        """An empty reply stopped by a refusal, with its stop_details."""
        return self.message(
            content=[], output_tokens=1, stop_reason="refusal",
            stop_details=refusal_details(fault),
        )


def refusal_details(fault: Fault) -> dict[str, Any]:
    return {"type": "refusal", "category": fault.category, "explanation": fault.explanation}

