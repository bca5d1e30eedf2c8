"""The offline upstream: a pure ASGI app speaking the Anthropic Messages API wire protocol.

Routes:
    POST /v1/messages               streamed (SSE) or not
    POST /v1/messages/count_tokens  {"input_tokens": N}
    GET  /v1/models, /v1/models/{id}
    POST /v1/messages/batches, GET /v1/messages/batches (list),
    GET|DELETE /v1/messages/batches/{id}, POST …/{id}/cancel, GET …/{id}/results (JSONL)
    POST /_control/faults | /_control/reset | /_control/pace | /_control/clock | /_control/batches
         | /_control/stamps | /_control/models
    GET  /_control/requests | /_control/state | /_control/stamps
The control routes are for tests and demos; never expose this server beyond loopback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from . import agentic, batches, binding, replies, validation
from .asgi import (
    ConnectionDropped,
    Receive,
    Scope,
    Send,
    header_map,
    quiet_deliberate_drops,
    read_body,
    run_until_disconnect,
    send_body,
    send_json,
    start_response,
)
from .cache import Fingerprint
from .errors import ApiError, invalid, new_message_id, new_request_id
from .faults import Fault, magic_fault
from .models import LONG_OUTPUT_BETA, MODELS, ModelSpec, find_model, model_info
from .prompt import breakpoints, serialise_prompt
from .responses import MessagePlan, Pacer, send_message, send_replay, stream_message
from .state import UpstreamState

MAX_PAGE = 1000
DEFAULT_PAGE = 20
BATCHES_PATH = "/v1/messages/batches"


class Request:
    """What a handler needs to know about one HTTP request."""

    def __init__(self, scope: Scope, body: bytes) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.headers = header_map(scope)
        self.base_url = f"{scope.get('scheme', 'http')}://{self.headers.get('host', '')}"
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

    def __init__(
        self,
        tokens_per_second: float | None = None,
        batch_seconds: float | None = None,
        first_token_seconds: float | None = None,
        stamps: bool = False,
        event_ms: str | None = None,
    ) -> None:
        self.state = UpstreamState(
            tokens_per_second, batch_seconds, first_token_seconds, stamps, event_ms
        )
        self.state.batches.answer = self._answer_batch_request
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/messages"): self.messages,
            ("POST", "/v1/messages/count_tokens"): self.count_tokens,
            ("GET", "/v1/models"): self.list_models,
            ("POST", BATCHES_PATH): self.create_batch,
            ("GET", BATCHES_PATH): self.list_batches,
            ("POST", "/_control/faults"): self.control_faults,
            ("POST", "/_control/reset"): self.control_reset,
            ("GET", "/_control/requests"): self.control_requests,
            ("POST", "/_control/pace"): self.control_pace,
            ("POST", "/_control/clock"): self.control_clock,
            ("GET", "/_control/state"): self.control_state,
            ("POST", "/_control/batches"): self.control_batches,
            ("POST", "/_control/stamps"): self.control_stamps,
            ("POST", "/_control/models"): self.control_models,
            ("GET", "/_control/stamps"): self.stamps,
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
        if request.path.startswith(BATCHES_PATH + "/"):
            return self._batch_route(request)
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
        strict = validation.is_strict(request.headers)
        model = self.state.sized(validation.validate_request(body, strict=strict))
        beta_names = validation.betas(request.headers)
        checked = binding.check_thinking_blocks(body, model, beta_names)
        self.state.record_body(request.path, request.query, request.headers, body)
        fault = fault or magic_fault(replies.last_user_text(body))
        if fault is not None and fault.kind == "status":
            raise fault.as_api_error()
        streamed = bool(body.get("stream"))
        if fault is not None and fault.kind == "error_event" and not streamed:
            raise fault.as_api_error()
        plan = self._plan(checked.body, model, request.request_id, bound_to=body)
        if binding.BINDING_BETA in beta_names:
            plan.input_transformations = checked.transformations
        if streamed:
            plan.stamps = self.state.stamps.open(request.request_id, replies.last_user_text(body))
        pacer = Pacer(
            lambda: self.state.pace, self.state.first_token_seconds,
            event_ms=self.state.event_ms, seed=plan.reply.seed,
        )
        respond = stream_message if streamed else send_message
        await run_until_disconnect(receive, respond(send, plan, pacer, fault))

    def _plan(
        self, body: dict[str, Any], model: ModelSpec, request_id: str,
        bound_to: dict[str, Any] | None = None,
    ) -> MessagePlan:
        """Count, check the size, settle the cache (reads and writes) and compose the reply.

        `body` is what the model sees; `bound_to` the request as sent (they differ when the
        binding check dropped thinking blocks), which new thinking blocks are bound to."""
        blocks = serialise_prompt(body, model)
        validation.check_prompt_size(sum(block.tokens for block in blocks), model)
        usage = self.state.cache.account(model, blocks, breakpoints(body, blocks))
        message_id = new_message_id()
        fingerprint = Fingerprint.of(model.id, blocks, usage)
        diagnostics = None
        asked = body.get("diagnostics")
        # Only a request that opts in (`diagnostics`, `previous_message_id: null` on a first
        # turn) has its fingerprint kept, and only such a request can be compared with later.
        if isinstance(asked, dict):
            previous = asked.get("previous_message_id")
            if isinstance(previous, str):
                diagnostics = self.state.diagnostics.explain(previous, fingerprint)
            self.state.diagnostics.remember(message_id, fingerprint)
        return MessagePlan(
            message_id=message_id,
            request_id=request_id,
            model=model,
            usage=usage,
            reply=agentic.compose(body, model, body if bound_to is None else bound_to),
            diagnostics=diagnostics,
        )

    async def count_tokens(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        body = validation.parse_body(request.body)
        strict = validation.is_strict(request.headers)
        model = validation.validate_request(body, count_only=True, strict=strict)
        self.state.record_body(request.path, request.query, request.headers, body)
        blocks = serialise_prompt(body, model)
        breakpoints(body, blocks)  # validated like a message request, never cached
        total = sum(block.tokens for block in blocks)
        if self.state.count_seconds:
            await asyncio.sleep(self.state.count_seconds)
        await send_json(send, 200, {"input_tokens": total}, [("request-id", request.request_id)])

    # --- /v1/models ---------------------------------------------------------------------

    async def list_models(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        query = parse_qs(request.query)
        # By default the API lists active and deprecated models; retired ones on request.
        lifecycle = query.get("lifecycle[]") or query.get("lifecycle") or ["active", "deprecated"]
        listed = [model for model in MODELS if model.lifecycle in lifecycle]
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

    # --- /v1/messages/batches ------------------------------------------------------------

    def _batch_route(self, request: Request) -> Handler:
        """…/{id} (GET, DELETE), …/{id}/cancel (POST), …/{id}/results (GET)."""
        _batch_id, _, action = request.path.removeprefix(BATCHES_PATH + "/").partition("/")
        handlers = {
            "": {"GET": self.retrieve_batch, "DELETE": self.delete_batch},
            "cancel": {"POST": self.cancel_batch},
            "results": {"GET": self.batch_results},
        }.get(action)
        if handlers is None:
            return self._not_found
        return handlers.get(request.method, self._method_not_allowed)

    @staticmethod
    def _batch_id(request: Request) -> str:
        return request.path.removeprefix(BATCHES_PATH + "/").partition("/")[0]

    async def _send_batch(self, request: Request, send: Send, batch: batches.Batch) -> None:
        body = batch.as_json(request.base_url)
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def create_batch(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        requests = batches.parse_create(request.body)
        beta_names = validation.betas(request.headers)
        options = batches.BatchOptions(
            long_output=LONG_OUTPUT_BETA in beta_names,
            strict=validation.is_strict(request.headers),
            betas=beta_names,
        )
        for _custom_id, params in requests:
            self.state.record_body(
                request.path, request.query, request.headers, params, batch_request=True
            )
        batch = self.state.batches.create(requests, options)
        await self._send_batch(request, send, batch)

    async def retrieve_batch(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        await self._send_batch(request, send, self.state.batches.get(self._batch_id(request)))

    async def cancel_batch(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        await self._send_batch(request, send, self.state.batches.cancel(self._batch_id(request)))

    async def delete_batch(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        batch_id = self._batch_id(request)
        self.state.batches.delete(batch_id)
        body = {"id": batch_id, "type": "message_batch_deleted"}
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def list_batches(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        listed = self.state.batches.newest_first()
        start, end, has_more = _paginate([batch.id for batch in listed], parse_qs(request.query))
        page = listed[start:end]
        body = {
            "data": [batch.as_json(request.base_url) for batch in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def batch_results(self, request: Request, receive: Receive, send: Send) -> None:
        validation.check_headers(request.headers)
        batch = self.state.batches.get(self._batch_id(request))
        if batch.ended is None:
            raise invalid(f"Batch {batch.id} has not finished processing; no results yet.")
        lines = batch.results_lines()
        headers = [
            ("content-type", batches.RESULTS_CONTENT_TYPE),
            ("content-length", str(sum(len(line) for line in lines))),
            ("request-id", request.request_id),
        ]
        await start_response(send, 200, headers)
        drop_after = self.state.batches.take_results_drop()
        for number, line in enumerate(lines):
            if number == drop_after:
                raise ConnectionDropped
            await send_body(send, line, more=True)
        await send_body(send, b"")

    def _answer_batch_request(
        self, params: Any, options: batches.BatchOptions
    ) -> dict[str, Any]:
        """One request of a batch, answered like a plain /v1/messages request.

        A magic phrase fails it (an error, or a refusal) instead of disturbing a connection."""
        request_id = new_request_id()
        fault = None
        try:
            model = validation.validate_request(
                params, long_output=options.long_output, strict=options.strict
            )
            # In a batch an unset prefix_mismatch_behavior drops instead of failing.
            checked = binding.check_thinking_blocks(params, model, options.betas, batch=True)
            fault = batches.request_fault(params)
            if fault is not None and fault.kind != "refusal":
                raise fault.as_api_error()
            plan = self._plan(checked.body, model, request_id, bound_to=params)
            if binding.BINDING_BETA in options.betas:
                plan.input_transformations = checked.transformations
        except ApiError as error:
            return {"type": "errored", "error": error.body(request_id)}
        message = plan.refused_message(fault) if fault else plan.whole_message()
        message["usage"]["service_tier"] = "batch"
        return {"type": "succeeded", "message": message}

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
        """`tokens_per_second` for every stream; `first_token_seconds` for replies from now on;
        `count_seconds`: how long each count_tokens call takes from now on."""
        pace = _number_field(request, "tokens_per_second")
        first = _number_field(request, "first_token_seconds")
        count = _number_field(request, "count_seconds")
        given = [value for value in (pace, first, count) if value is not None]
        if not given or min(given) < 0:
            error = "give tokens_per_second, first_token_seconds or count_seconds, numbers >= 0"
            await send_json(send, 400, {"error": error})
            return
        if pace is not None:
            self.state.pace = pace
        if first is not None:
            self.state.first_token_seconds = first
        if count is not None:
            self.state.count_seconds = count
        await send_json(send, 200, self._state_summary())

    async def control_stamps(self, request: Request, receive: Receive, send: Send) -> None:
        """`{"enabled": true}` records the write time of every streamed text delta from now on
        (see stamps.py); `false` stops; either way what was recorded is forgotten."""
        try:
            enabled = request.json().get("enabled")
        except (ValueError, AttributeError):
            enabled = None
        if not isinstance(enabled, bool):
            await send_json(send, 400, {"error": "give enabled: true or false"})
            return
        self.state.stamps.clear()
        self.state.stamps.enabled = enabled
        await send_json(send, 200, {"enabled": enabled})

    async def stamps(self, request: Request, receive: Receive, send: Send) -> None:
        await send_json(send, 200, self.state.stamps.as_json())

    async def control_clock(self, request: Request, receive: Receive, send: Send) -> None:
        value = _number_field(request, "advance_seconds")
        if value is None or value < 0:
            await send_json(send, 400, {"error": "advance_seconds must be a number >= 0"})
            return
        self.state.clock.advance(value)
        await send_json(send, 200, self._state_summary())

    async def control_batches(self, request: Request, receive: Receive, send: Send) -> None:
        """`processing_seconds` for batches created from now on; `drop_results_after_lines`
        cuts the next results download after that many lines."""
        seconds = _number_field(request, "processing_seconds")
        drop = _number_field(request, "drop_results_after_lines")
        given = [value for value in (seconds, drop) if value is not None]
        if not given or min(given) < 0:
            error = "give processing_seconds or drop_results_after_lines, numbers >= 0"
            await send_json(send, 400, {"error": error})
            return
        if seconds is not None:
            self.state.batches.processing_seconds = seconds
        if drop is not None:
            self.state.batches.drop_results_after = int(drop)
        await send_json(send, 200, self._state_summary())

    async def control_models(self, request: Request, receive: Receive, send: Send) -> None:
        """`{"model": id, "context_window": N}`: requests to that model whose prompt is over N
        tokens get the API's 400 `prompt is too long` (until reset)."""
        try:
            raw = request.json()
            model, window = raw.get("model"), raw.get("context_window")
        except (ValueError, AttributeError):
            model = window = None
        if find_model(str(model)) is None or not isinstance(window, int) or window < 1:
            error = "give model (a catalogue id) and context_window (an integer >= 1)"
            await send_json(send, 400, {"error": error})
            return
        self.state.context_windows[model] = window
        await send_json(send, 200, self._state_summary())

    async def control_state(self, request: Request, receive: Receive, send: Send) -> None:
        await send_json(send, 200, self._state_summary())

    def _state_summary(self) -> dict[str, Any]:
        return {
            "tokens_per_second": self.state.pace,
            "default_tokens_per_second": self.state.default_pace,
            "first_token_seconds": self.state.first_token_seconds,
            "count_seconds": self.state.count_seconds,
            "event_ms": list(self.state.event_ms) if self.state.event_ms else 0,
            "stamps": self.state.stamps.enabled,
            "pending_faults": self.state.pending_faults,
            "clock": self.state.clock.now(),
            "batch_seconds": self.state.batches.processing_seconds,
            "default_batch_seconds": self.state.batches.default_processing_seconds,
            "context_windows": dict(self.state.context_windows),
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


def create_app(
    tokens_per_second: float | None = None,
    batch_seconds: float | None = None,
    first_token_seconds: float | None = None,
    stamps: bool = False,
    event_ms: str | None = None,
) -> OfflineUpstream:
    """A fresh offline upstream; the pace defaults to OFFLINE_UPSTREAM_TOKENS_PER_SECOND or 60,
    a batch's processing time to OFFLINE_UPSTREAM_BATCH_SECONDS or 5, the wait before the first
    token to OFFLINE_UPSTREAM_FIRST_TOKEN_SECONDS or 0, the gap between a paced stream's text
    events ("LOW-HIGH" ms, "0" for a delta of 1–3 tokens each time) to OFFLINE_UPSTREAM_EVENT_MS
    or Claude's 70–200 ms; stamping is off unless asked for."""
    return OfflineUpstream(tokens_per_second, batch_seconds, first_token_seconds, stamps, event_ms)
