"""The offline upstream: a pure ASGI app speaking the Anthropic Messages API wire protocol.

Routes:
    POST /v1/messages               streamed (SSE) or not
    POST /v1/messages/count_tokens  {"input_tokens": N}
    GET  /v1/models, /v1/models/{id}
    POST /_control/faults | /_control/reset | /_control/pace | /_control/clock
    GET  /_control/requests | /_control/state
The control routes are for tests and demos; never expose this server beyond loopback.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from . import replies, validation
from .asgi import (
    Receive,
    Scope,
    Send,
    header_map,
    quiet_deliberate_drops,
    read_body,
    run_until_disconnect,
    send_json,
)
from .cache import Fingerprint
from .errors import ApiError, invalid, new_message_id, new_request_id
from .faults import Fault, magic_fault
from .models import MODELS, ModelSpec, find_model, model_info
from .prompt import breakpoints, serialise_prompt
from .responses import MessagePlan, Pacer, send_message, send_replay, stream_message
from .state import UpstreamState

MAX_PAGE = 1000
DEFAULT_PAGE = 20


class Request:
    """What a handler needs to know about one HTTP request."""

    def __init__(self, scope: Scope, body: bytes) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.headers = header_map(scope)
        self.body = body
        self.request_id = new_request_id()

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Handler = Callable[[Request, Receive, Send], Awaitable[None]]


async def send_api_error(send: Send, error: ApiError, request_id: str) -> None:
    headers = [("request-id", request_id), *error.headers]
    await send_json(send, error.status, error.body(request_id), headers)


class OfflineUpstream:
    """The ASGI application.  `state` is its pace, faults, log, cache and clock."""

    def __init__(self, tokens_per_second: float | None = None) -> None:
        self.state = UpstreamState(tokens_per_second)
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/messages"): self.messages,
            ("POST", "/v1/messages/count_tokens"): self.count_tokens,
            ("GET", "/v1/models"): self.list_models,
            ("POST", "/_control/faults"): self.control_faults,
            ("POST", "/_control/reset"): self.control_reset,
            ("GET", "/_control/requests"): self.control_requests,
            ("POST", "/_control/pace"): self.control_pace,
            ("POST", "/_control/clock"): self.control_clock,
            ("GET", "/_control/state"): self.control_state,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                quiet_deliberate_drops()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, await read_body(receive))
        if request.path.startswith("/v1/"):
            self.state.log_request(
                request.method, request.path, request.query, request.headers, request.body
            )
        handler = self._route(request)
        try:
            await handler(request, receive, send)
        except ApiError as error:
            await send_api_error(send, error, request.request_id)

    def _route(self, request: Request) -> Handler:
        handler = self._routes.get((request.method, request.path))
        if handler:
            return handler
        if request.method == "GET" and request.path.startswith("/v1/models/"):
            return self.retrieve_model
        if any(path == request.path for _method, path in self._routes):
            return self._method_not_allowed
        return self._not_found

    async def _not_found(self, request: Request, receive: Receive, send: Send) -> None:
        raise ApiError(404, "Not Found")

    async def _method_not_allowed(self, request: Request, receive: Receive, send: Send) -> None:
        raise ApiError(405, "Method Not Allowed")

    # --- /v1/messages -------------------------------------------------------------------

    async def messages(self, request: Request, receive: Receive, send: Send) -> None:
        # A queued fault is consumed by every request, valid or not.  Status and replay faults
        # answer before validation (they need nothing from the request); the others need a
        # valid request to disturb.
        fault = self.state.next_fault()
        if fault is not None and fault.kind == "status":
            raise fault.as_api_error()
        if fault is not None and fault.kind == "replay":
            await send_replay(send, request.request_id, fault)
            return
        validation.check_headers(request.headers)
        body = validation.parse_body(request.body)
        model = validation.validate_request(body)
        fault = fault or magic_fault(replies.last_user_text(body))
        if fault is not None and fault.kind == "status":
            raise fault.as_api_error()
        streamed = bool(body.get("stream"))
        if fault is not None and fault.kind == "error_event" and not streamed:
            raise fault.as_api_error()
        plan = self._plan(body, model, request.request_id)
        pacer = Pacer(lambda: self.state.pace)
        respond = stream_message if streamed else send_message
        await run_until_disconnect(receive, respond(send, plan, pacer, fault))

    def _plan(self, body: dict[str, Any], model: ModelSpec, request_id: str) -> MessagePlan:
        """Count, check the size, settle the cache (reads and writes) and compose the reply."""
        blocks = serialise_prompt(body, model)
        validation.check_prompt_size(sum(block.tokens for block in blocks), model)
        usage = self.state.cache.account(model, blocks, breakpoints(body, blocks))
        message_id = new_message_id()
        fingerprint = Fingerprint.of(model.id, blocks, usage)
        diagnostics = None
        asked = body.get("diagnostics")
        previous = asked.get("previous_message_id") if isinstance(asked, dict) else None
        if isinstance(previous, str):
            diagnostics = self.state.diagnostics.explain(previous, fingerprint)
        self.state.diagnostics.remember(message_id, fingerprint)
        return MessagePlan(
            message_id=message_id,
            request_id=request_id,
            model=model,
            usage=usage,
            reply=replies.plan_reply(body, model),
            diagnostics=diagnostics,
        )

    async def count_tokens(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        body = validation.parse_body(request.body)
        model = validation.validate_request(body, count_only=True)
        blocks = serialise_prompt(body, model)
        breakpoints(body, blocks)  # validated like a message request, never cached
        total = sum(block.tokens for block in blocks)
        await send_json(send, 200, {"input_tokens": total}, [("request-id", request.request_id)])

    # --- /v1/models ---------------------------------------------------------------------

    async def list_models(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        query = parse_qs(request.query)
        # Every model here is "active"; by default the API lists active and deprecated ones.
        lifecycle = query.get("lifecycle[]") or query.get("lifecycle") or ["active", "deprecated"]
        listed = [model for model in MODELS if "active" in lifecycle]
        start, end, has_more = _paginate([model.id for model in listed], query)
        page = listed[start:end]
        body = {
            "data": [model_info(model) for model in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def retrieve_model(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        model_id = request.path.removeprefix("/v1/models/")
        model = find_model(model_id)
        if model is None:
            raise ApiError(404, f"model: {model_id}")
        await send_json(send, 200, model_info(model), [("request-id", request.request_id)])

    # --- /_control ----------------------------------------------------------------------

    async def control_faults(self, request: Request, receive: Receive, send: Send) -> None:
        try:
            raw = request.json()
            faults = [Fault.parse(item) for item in (raw if isinstance(raw, list) else [raw])]
        except (ValueError, TypeError) as exc:
            await send_json(send, 400, {"error": str(exc)})
            return
        self.state.add_faults(faults)
        await send_json(send, 200, {"pending_faults": self.state.pending_faults})

    async def control_reset(self, request: Request, receive: Receive, send: Send) -> None:
        self.state.reset()
        await send_json(send, 200, self._state_summary())

    async def control_requests(self, request: Request, receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"requests": self.state.requests()})

    async def control_pace(self, request: Request, receive: Receive, send: Send) -> None:
        value = _number_field(request, "tokens_per_second")
        if value is None or value < 0:
            await send_json(send, 400, {"error": "tokens_per_second must be a number >= 0"})
            return
        self.state.pace = value
        await send_json(send, 200, self._state_summary())

    async def control_clock(self, request: Request, receive: Receive, send: Send) -> None:
        value = _number_field(request, "advance_seconds")
        if value is None or value < 0:
            await send_json(send, 400, {"error": "advance_seconds must be a number >= 0"})
            return
        self.state.clock.advance(value)
        await send_json(send, 200, self._state_summary())

    async def control_state(self, request: Request, receive: Receive, send: Send) -> None:
        await send_json(send, 200, self._state_summary())

    def _state_summary(self) -> dict[str, Any]:
        return {
            "tokens_per_second": self.state.pace,
            "default_tokens_per_second": self.state.default_pace,
            "pending_faults": self.state.pending_faults,
            "clock": self.state.clock.now(),
        }


def _number_field(request: Request, name: str) -> float | None:
    try:
        value = request.json().get(name)
    except (ValueError, AttributeError):
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None


def _paginate(ids: list[str], query: dict[str, list[str]]) -> tuple[int, int, bool]:
    """(start, end, has_more) of a page of `ids`, paged as the API pages lists: `limit`, then
    `after_id` (the page after that id) or `before_id` (the page just before it)."""
    try:
        limit = int(query.get("limit", [DEFAULT_PAGE])[0])
    except ValueError as exc:
        raise invalid("limit: Input should be a valid integer") from exc
    if not 1 <= limit <= MAX_PAGE:
        raise invalid(f"limit: Input should be between 1 and {MAX_PAGE}")
    after, before = query.get("after_id", [None])[0], query.get("before_id", [None])[0]
    if before is not None:
        end = _cursor_index(ids, before)
        start = max(0, end - limit)
        return start, end, start > 0
    start = _cursor_index(ids, after) + 1 if after is not None else 0
    end = min(start + limit, len(ids))
    return start, end, end < len(ids)


def _cursor_index(ids: list[str], cursor: str) -> int:
    if cursor not in ids:
        raise invalid(f"Invalid cursor: {cursor}")
    return ids.index(cursor)


def create_app(tokens_per_second: float | None = None) -> OfflineUpstream:
    """A fresh offline upstream; the pace defaults to OFFLINE_UPSTREAM_TOKENS_PER_SECOND or 60."""
    return OfflineUpstream(tokens_per_second)
