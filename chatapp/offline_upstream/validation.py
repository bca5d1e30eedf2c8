"""Request validation with the API's status codes and the style of its messages.

It is deliberately lenient about what it does not check (unknown fields, unknown block types):
the aim is to catch the mistakes an app can make, never to reject what the SDK sends.

The body, the model, max_tokens, the messages and their roles, sampling, tool_choice and the
2026-10-21 placement rules are checked here; the headers in request_headers.py, thinking and
effort in thinking_checks.py, images and PDFs in media_checks.py.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError, invalid
from .media_checks import check_media
from .models import SYSTEM_MESSAGE_MODELS, ModelSpec, find_model
from .prompt import as_blocks, walk_blocks
from .thinking_checks import check_thinking

MAX_REQUEST_BYTES = 32 * 1024 * 1024
ROLES = ("user", "assistant", "system")
SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")
FORCED_TOOL_CHOICES = ("any", "tool")


def parse_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_REQUEST_BYTES:
        raise ApiError(413)
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"There was an error parsing the body of your request: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object")
    return body


def _require(body: dict[str, Any], name: str) -> Any:
    if name not in body or body[name] is None:
        raise invalid(f"{name}: Field required")
    return body[name]


def check_model(body: dict[str, Any]) -> ModelSpec:
    model_id = _require(body, "model")
    if not isinstance(model_id, str):
        raise invalid("model: Input should be a valid string")
    model = find_model(model_id)
    # A retired model stays in GET /v1/models (lifecycle "retired") but answers no request:
    # the docs only say such requests "fail"; the not-found error is what the API sends for a
    # model it does not serve.
    if model is None or model.lifecycle == "retired":
        raise ApiError(404, f"model: {model_id}")
    return model


def _check_max_tokens(body: dict[str, Any], model: ModelSpec, limit: int | None) -> int:
    limit = model.max_tokens if limit is None else limit
    value = _require(body, "max_tokens")
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("max_tokens: Input should be a valid integer")
    if value < 0:  # 0 is allowed: a non-streamed max_tokens 0 pre-warms the cache
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    if value > limit:
        raise invalid(
            f"max_tokens: {value} > {limit}, which is the maximum allowed number "
            f"of output tokens for {model.id}"
        )
    return value


def _check_text_blocks(blocks: list[dict[str, Any]], where: str) -> None:
    for index, block in enumerate(blocks):
        if not isinstance(block.get("type"), str):
            raise invalid(f"{where}.{index}.type: Field required")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise invalid(f"{where}.{index}.text: Field required")
        if block["type"] == "text" and not block["text"]:
            raise invalid(f"{where.split('.')[0]}: text content blocks must be non-empty")


def _check_message(index: int, message: Any, is_last: bool) -> None:
    where = f"messages.{index}"
    if not isinstance(message, dict):
        raise invalid(f"{where}: Input should be a valid dictionary")
    if message.get("role") not in ROLES:
        raise invalid(f"{where}.role: Input should be 'user', 'assistant' or 'system'")
    content = _require_content(message, where)
    blocks = as_blocks(content)
    if not blocks and not (is_last and message["role"] == "assistant"):
        raise invalid(
            f"{where}: all messages must have non-empty content except for the optional "
            "final assistant message"
        )
    _check_text_blocks(blocks, f"{where}.content")


def _require_content(message: dict[str, Any], where: str) -> Any:
    if "content" not in message:
        raise invalid(f"{where}.content: Field required")
    content = message["content"]
    if not isinstance(content, str | list):
        raise invalid(f"{where}.content: Input should be a valid string or list")
    return content


def _check_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = _require(body, "messages")
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    for index, message in enumerate(messages):
        _check_message(index, message, index == len(messages) - 1)
    if messages[0]["role"] != "user":
        raise invalid('messages: first message must use the "user" role')
    return messages


def _check_system_messages(messages: list[dict[str, Any]], model: ModelSpec) -> None:
    """Mid-conversation system messages: only on the models that take them, right after a
    user message, text blocks only."""
    for index, message in enumerate(messages):
        if message["role"] != "system":
            continue
        where = f"messages.{index}"
        if model.id not in SYSTEM_MESSAGE_MODELS:
            raise invalid(f"{where}.role: role 'system' is not supported on this model")
        if index == 0 or messages[index - 1]["role"] != "user":
            raise invalid(f"{where}: a system message must come right after a user message")
        if any(block.get("type") != "text" for block in as_blocks(message["content"])):
            raise invalid(f"{where}.content: a system message takes text blocks only")


def _check_system(body: dict[str, Any]) -> None:
    system = body.get("system")
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or list")
    _check_text_blocks(as_blocks(system), "system")


def _check_sampling(body: dict[str, Any]) -> None:
    """Under 2026-10-21 no model takes sampling parameters, at any value."""
    for name in SAMPLING_PARAMETERS:
        if name in body:
            raise invalid(f"{name}: Extra inputs are not permitted")


def _check_tool_choice(body: dict[str, Any], model: ModelSpec) -> None:
    choice = body.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in FORCED_TOOL_CHOICES and not model.accepts_forced_tools:
        # These models always think, and thinking cannot be combined with a forced tool call.
        raise invalid(
            f"tool_choice: `{kind}` is not supported for this model; thinking may not be "
            "enabled when tool_choice forces tool use. Use `auto` or `none`."
        )


def _nested_text_blocks(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The block and the text blocks inside it (a search_result's content)."""
    if block.get("type") == "search_result":
        return [block, *as_blocks(block.get("content"))]
    return [block]


def _check_placement(messages: list[dict[str, Any]]) -> None:
    """Under 2026-10-21: documents only in user turns; citations only in assistant turns;
    citations on for every document or for none."""
    enabled: set[bool] = set()
    for m_index, message in enumerate(messages):
        role = message.get("role")
        for b_index, block in enumerate(as_blocks(message.get("content"))):
            path = f"messages.{m_index}.content.{b_index}"
            for inner in walk_blocks([block]):
                if inner.get("type") == "document":
                    if role == "assistant":
                        raise invalid(
                            f"{path}: `document` blocks are not permitted in `assistant` "
                            "messages; send documents in a `user` message"
                        )
                    enabled.add(bool((inner.get("citations") or {}).get("enabled")))
                if role == "user" and any(
                    part.get("type") in ("text", "search_result") and part.get("citations")
                    and isinstance(part.get("citations"), list)
                    for part in _nested_text_blocks(inner)
                ):
                    raise invalid(
                        f"{path}.citations: citations are not permitted on blocks in `user` "
                        "messages; only the assistant's text blocks carry citations"
                    )
    if len(enabled) > 1:
        raise invalid(
            "Citations must be enabled for all documents or for none of them: this request "
            "mixes documents with citations enabled and disabled."
        )


def _check_temperature(body: dict[str, Any], model: ModelSpec) -> None:
    """Sampling as the API checks it: 0–1, only on models that still take it, and with
    extended thinking only at 1."""
    value = body.get("temperature")
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise invalid("temperature: Input should be a valid number")
    if value < 0:
        raise invalid("temperature: Input should be greater than or equal to 0")
    if value > 1:
        raise invalid("temperature: Input should be less than or equal to 1")
    if not model.accepts_temperature:
        raise invalid("`temperature` is deprecated for this model.")
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive") and (
        value != 1
    ):
        raise invalid(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/"
            "extended-thinking#feature-compatibility"
        )


def validate_request(
    body: dict[str, Any], *, count_only: bool = False, long_output: bool = False,
    strict: bool = True,
) -> ModelSpec:
    """Check a /v1/messages (or count_tokens) body; returns the model it names.

    `long_output`: a batch request sent with the long-output beta (a larger max_tokens).
    `strict`: the request sent `anthropic-version: 2026-10-21` (or later)."""
    model = check_model(body)
    limit = model.batch_max_tokens if long_output else None
    max_tokens = None if count_only else _check_max_tokens(body, model, limit)
    messages = _check_messages(body)
    _check_system(body)
    _check_system_messages(messages, model)
    stop_sequences = body.get("stop_sequences")
    if stop_sequences is not None and not (
        isinstance(stop_sequences, list) and all(isinstance(s, str) for s in stop_sequences)
    ):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    check_thinking(body, model, max_tokens)
    if strict:
        _check_sampling(body)
        _check_placement(messages)
    elif not count_only:  # count_tokens takes no sampling parameters
        _check_temperature(body, model)
    _check_tool_choice(body, model)
    check_media(messages, model)
    if (
        not count_only
        and messages[-1]["role"] == "assistant"
        and not model.accepts_prefill
        and not _is_paused_turn(messages[-1])  # continuing a paused turn is no prefill
    ):
        raise invalid(
            "This model does not support assistant message prefill. The conversation must end "
            "with a user message."
        )
    return model


def _is_paused_turn(message: dict[str, Any]) -> bool:
    from .agentic import is_paused_turn  # agentic builds on replies, which builds on this

    return is_paused_turn(message)


def check_prompt_size(prompt_tokens: int, model: ModelSpec) -> None:
    if prompt_tokens > model.max_input_tokens:
        raise invalid(
            f"prompt is too long: {prompt_tokens} tokens > {model.max_input_tokens} maximum"
        )
