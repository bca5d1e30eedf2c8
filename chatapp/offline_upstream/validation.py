"""Request validation with the API's status codes and the style of its messages.

It is deliberately lenient about what it does not check (unknown fields, unknown block types):
the aim is to catch the mistakes an app can make, never to reject what the SDK sends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import media
from .errors import ApiError, invalid
from .models import EFFORTS, SYSTEM_MESSAGE_MODELS, ModelSpec, find_model
from .prompt import as_blocks, walk_blocks

MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_IMAGE_SIDE = 8000
# Above MANY_IMAGES images in one request every side must stay within MANY_IMAGES_SIDE.
MANY_IMAGES, MANY_IMAGES_SIDE = 20, 2000
MIN_THINKING_BUDGET = 1024
ROLES = ("user", "assistant", "system")
# Base64 text of one image, at most (the Claude API's limit; Bedrock and Google Cloud: 5 MB).
MAX_IMAGE_BASE64_BYTES = 10 * 1024 * 1024
# The API version SDK 2.x sends; from it on the stricter rules below apply (the lenient
# 2023-06-01 behaviour stays for requests that still send the old version).
STRICT_API_VERSION = "2026-10-21"
SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")
DISPLAYS = ("summarized", "omitted")
FORCED_TOOL_CHOICES = ("any", "tool")


def is_strict(headers: Mapping[str, str]) -> bool:
    """Whether the request's `anthropic-version` is 2026-10-21 or later (dates sort as text)."""
    return headers.get("anthropic-version", "").strip() >= STRICT_API_VERSION


def betas(headers: Mapping[str, str]) -> frozenset[str]:
    """The `anthropic-beta` header's comma-separated names."""
    return frozenset(
        name.strip() for name in headers.get("anthropic-beta", "").split(",") if name.strip()
    )


def check_headers(headers: Mapping[str, str]) -> None:
    """Authentication and API version, checked before anything else like the real API."""
    api_key = headers.get("x-api-key", "").strip()
    scheme, _, token = headers.get("authorization", "").partition(" ")
    # SDK 2.x sends the key as `Authorization: Bearer <key>`; older clients send x-api-key.
    if not api_key and not (scheme.lower() == "bearer" and token.strip()):
        raise ApiError(401, "x-api-key header is required")
    if not headers.get("anthropic-version", "").strip():
        raise invalid("anthropic-version: header is required")


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


def _effort(body: dict[str, Any], model: ModelSpec) -> str | None:
    """`output_config.effort`, checked; None when the request does not set it."""
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is None:
        return None
    if effort not in EFFORTS:
        raise invalid(
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
        )
    if not model.takes_effort:
        raise invalid("output_config.effort: effort is not supported for this model")
    return effort


def _check_thinking(body: dict[str, Any], model: ModelSpec, max_tokens: int | None) -> None:
    """The thinking types and efforts a model takes (models.py holds them as data)."""
    effort = _effort(body, model)
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return
    kind = thinking.get("type")
    display = thinking.get("display")
    if display is not None and display not in DISPLAYS:
        raise invalid("thinking.display: Input should be 'summarized' or 'omitted'")
    efforts = model.thinking.types.get(kind)
    if efforts is None:
        raise invalid(_unsupported_thinking(kind))
    effective = effort or model.thinking.default_effort
    if effective not in efforts:
        allowed = ", ".join(f"`{name}`" for name in sorted(efforts, key=EFFORTS.index))
        raise invalid(
            f'"thinking.type.{kind}" is only supported with `output_config.effort` {allowed} '
            f"on this model (this request: `{effective}`)."
        )
    if kind == "enabled":
        _check_budget(thinking, max_tokens)


def _unsupported_thinking(kind: Any) -> str:
    if kind == "adaptive":
        return "adaptive thinking is not supported on this model"
    if kind == "enabled":
        return (
            '"thinking.type.enabled" is not supported for this model. Use '
            '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
        )
    if kind == "disabled":
        return (
            '"thinking.type.disabled" is not supported for this model. Use '
            '"output_config.effort" to control thinking behavior.'
        )
    if kind == "between_tools":
        return '"thinking.type.between_tools" is not supported for this model.'
    return (
        "thinking.type: Input should be 'adaptive', 'between_tools', 'disabled' or 'enabled'"
    )


def _check_budget(thinking: dict[str, Any], max_tokens: int | None) -> None:
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        raise invalid(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to "
            f"{MIN_THINKING_BUDGET}"
        )
    if max_tokens is not None and budget >= max_tokens:
        raise invalid(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/"
            "extended-thinking#max-tokens-and-context-window-size"
        )


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


def _media_blocks(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(path, block) of every base64 image and document, nested ones included."""
    found = []
    for m_index, message in enumerate(messages):
        for b_index, block in enumerate(as_blocks(message.get("content"))):
            for inner in walk_blocks([block]):
                source = inner.get("source") or {}
                if inner.get("type") in ("image", "document") and source.get("type") == "base64":
                    found.append((f"messages.{m_index}.content.{b_index}", inner))
    return found


def _check_image(path: str, block: dict[str, Any], many: bool) -> None:
    source = block["source"]
    size = len(str(source.get("data", "")))
    if size > MAX_IMAGE_BASE64_BYTES:  # checked before decoding anything
        raise invalid(
            f"{path}.image.source.base64: image exceeds 10 MB maximum: {size} bytes > "
            f"{MAX_IMAGE_BASE64_BYTES} bytes"
        )
    declared = source.get("media_type")
    if declared not in media.IMAGE_MEDIA_TYPES.values():
        raise invalid(
            f"{path}.image.source.base64.media_type: Input should be 'image/jpeg', "
            "'image/png', 'image/gif' or 'image/webp'"
        )
    try:
        actual, width, height = media.image_info(str(source.get("data", "")))
    except media.MediaError as exc:
        raise invalid(f"{path}.image.source.base64: {exc}") from exc
    if actual != declared:
        raise invalid(
            f"{path}.image.source.base64: The image was specified using the {declared} media "
            f"type, but the image appears to be a {actual} image"
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise invalid(
            f"{path}.image.source.base64: image dimensions exceed max allowed size: "
            f"{MAX_IMAGE_SIDE} pixels"
        )
    if many and max(width, height) > MANY_IMAGES_SIDE:
        raise invalid(
            f"{path}.image.source.base64: At least one of the image dimensions exceed max "
            f"allowed size for many-image requests: {MANY_IMAGES_SIDE} pixels"
        )


def _check_pdf(path: str, block: dict[str, Any]) -> int:
    source = block["source"]
    if source.get("media_type") != "application/pdf":
        raise invalid(
            f"{path}.document.source.base64.media_type: Input should be 'application/pdf'"
        )
    try:
        return len(media.pdf_page_texts(str(source.get("data", ""))))
    except media.MediaError as exc:
        raise invalid(f"{path}.document.source.base64.data: {exc}") from exc


def _image_count(messages: list[dict[str, Any]]) -> int:
    """Every image block, whatever its source (url and file images count as media too)."""
    return sum(
        1
        for message in messages
        for inner in walk_blocks(as_blocks(message.get("content")))
        if inner.get("type") == "image"
    )


def _check_media(messages: list[dict[str, Any]], model: ModelSpec) -> None:
    found = _media_blocks(messages)
    many = sum(1 for _path, block in found if block["type"] == "image") > MANY_IMAGES
    pages = 0
    for path, block in found:
        if block["type"] == "image":
            _check_image(path, block, many)
        else:
            pages += _check_pdf(path, block)
    images = _image_count(messages)
    if pages > model.max_pdf_pages and not images:
        raise invalid(f"A maximum of {model.max_pdf_pages} PDF pages may be provided.")
    if pages + images > model.max_media:
        raise invalid(
            f"Too much media: {pages} document pages + {images} images > {model.max_media}"
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
    _check_thinking(body, model, max_tokens)
    if strict:
        _check_sampling(body)
        _check_placement(messages)
    elif not count_only:  # count_tokens takes no sampling parameters
        _check_temperature(body, model)
    _check_tool_choice(body, model)
    _check_media(messages, model)
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
