"""Parse and check frames that browsers send on a conversation socket.

Any input at all yields either a frame object or ``FrameError`` with a message fit to show;
nothing else escapes, so a hostile frame can never take the socket down.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from chatapp.claude.thinking import ALL_LEVELS, OFF, ON
from chatapp.errors import ChatappError
from chatapp.safety.inputs import broken_text_at, broken_text_message, is_id

MAX_FRAME_BYTES = 512 * 1024
MAX_ATTACHMENTS = 20
THINKING_CHOICES = (OFF, ON, *ALL_LEVELS)  # chatapp/claude/thinking.py maps them per model


class FrameError(ChatappError, ValueError):
    """The frame is malformed; the message says how, in plain words."""

    code = "bad_frame"


@dataclass(frozen=True)
class UserMessage:
    text: str
    model: str | None = None  # a catalog id, or "auto" (chatapp/replies/model_router.py)
    attachments: tuple[int, ...] = field(default_factory=tuple)
    thinking: str | None = None  # off / on / low … xhigh / max (chatapp/claude/thinking.py)
    edit_of: int | None = None  # `edit_message`: a new version of this earlier question


@dataclass(frozen=True)
class Stop:
    message_id: int | None = None


@dataclass(frozen=True)
class Regenerate:
    message_id: int
    # A refused reply retried on its model's fallback (the catalog's `fallback_model`).
    fallback: bool = False


@dataclass(frozen=True)
class Continue:
    message_id: int


ClientFrame = UserMessage | Stop | Regenerate | Continue


def _id(value: Any, name: str) -> int:
    # bool is an int in Python; an id of `true` is a mistake, not 1; 30 digits fit no row.
    if not is_id(value):
        raise FrameError(f"{name} must be a positive whole number.")
    return value


def _user_message(data: dict[str, Any]) -> UserMessage:
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise FrameError("text must be a non-empty string.")
    if len(text) > settings.CHATAPP_MAX_MESSAGE_CHARS:
        raise FrameError(
            f"The message is too long ({len(text):,} characters; "
            f"the limit is {settings.CHATAPP_MAX_MESSAGE_CHARS:,})."
        )
    model = data.get("model")
    if model is not None and (not isinstance(model, str) or not model or len(model) > 100):
        raise FrameError("model must be a model id from the catalog.")
    attachments = data.get("attachments", [])
    if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
        raise FrameError(f"attachments must be a list of at most {MAX_ATTACHMENTS} ids.")
    thinking = data.get("thinking")
    if thinking is not None and thinking not in THINKING_CHOICES:
        raise FrameError(f"thinking must be one of {', '.join(THINKING_CHOICES)}.")
    return UserMessage(
        text=text,
        model=model,
        attachments=tuple(_id(item, "Each attachment") for item in attachments),
        thinking=thinking,
    )


def _edit_message(data: dict[str, Any]) -> UserMessage:
    edit_of = _id(data.get("message_id"), "message_id")
    return dataclasses.replace(_user_message(data), edit_of=edit_of)


def _stop(data: dict[str, Any]) -> Stop:
    message_id = data.get("message_id")
    return Stop(None if message_id is None else _id(message_id, "message_id"))


def _regenerate(data: dict[str, Any]) -> Regenerate:
    fallback = data.get("fallback", False)
    if not isinstance(fallback, bool):
        raise FrameError("fallback must be true or false.")
    return Regenerate(_id(data.get("message_id"), "message_id"), fallback=fallback)


def _continue(data: dict[str, Any]) -> Continue:
    return Continue(_id(data.get("message_id"), "message_id"))


_PARSERS = {
    "user_message": _user_message,
    "edit_message": _edit_message,
    "stop": _stop,
    "regenerate": _regenerate,
    "continue": _continue,
}


def parse_frame(raw: str | bytes | None) -> ClientFrame:
    """The frame in ``raw``, or ``FrameError``."""
    if raw is None:
        raise FrameError("Frames must be JSON text.")
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("The frame is too large.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FrameError("The frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise FrameError("A frame must be a JSON object.")
    where = broken_text_at(data)  # a lone surrogate would reach the database and the SDK
    if where is not None:
        raise FrameError(broken_text_message(where))
    kind = data.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise FrameError(f"Unknown frame type {str(kind)[:40]!r}.")
    return parser(data)
