"""One tiny request to a model, reported as the API answered it (for ``check_upstream``).

Unlike ``messages.complete`` this keeps the API's own words: HTTP status, error type and
message, request id, which is what someone checking a deployment or a new API version needs.
"""

import warnings
from dataclasses import dataclass
from typing import Any

import anthropic

from chatapp.claude.client import get_client

PROBE_TEXT = "Reply with the single word OK."


@dataclass(frozen=True)
class ProbeResult:
    model: str
    ok: bool
    status: int | None = None  # None: no HTTP answer (connection failed, timed out)
    error_type: str = ""
    message: str = ""
    request_id: str = ""
    stop_reason: str = ""
    answered_by: str = ""  # the model the response names
    input_tokens: int = 0
    output_tokens: int = 0
    warning: str = ""  # what the SDK warned about (a deprecated model, for one)


def api_version() -> str:
    """The `anthropic-version` the SDK sends."""
    return get_client().default_headers.get("anthropic-version", "")


async def probe(model: str, params: dict[str, Any]) -> ProbeResult:
    """Send ``params`` (max_tokens, thinking fields…) with a one-line question to ``model``."""
    request = {**params, "model": model,
               "messages": [{"role": "user", "content": PROBE_TEXT}]}
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", DeprecationWarning)
            message = await get_client().messages.create(**request)
    except anthropic.APIStatusError as exc:
        return ProbeResult(model, False, exc.status_code, exc.type or "",
                           exc.api_message or str(exc), exc.request_id or "")
    except anthropic.APIConnectionError as exc:
        kind = "timeout" if isinstance(exc, anthropic.APITimeoutError) else "connection_error"
        return ProbeResult(model, False, None, kind, str(exc))
    return ProbeResult(
        model, True, 200, request_id=message._request_id or "",
        stop_reason=message.stop_reason or "", answered_by=message.model,
        input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens,
        warning=" ".join(" ".join(str(w.message).split()) for w in warned),
    )
