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

The routes of /v1/messages, count_tokens and /v1/models are here; the batches' in
batch_routes.py, the control routes in control_routes.py, what they share in endpoints.py.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from . import agentic, binding, replies, request_headers, validation
from .asgi import (
    Receive,
    Scope,
    Send,
    quiet_deliberate_drops,
    read_body,
    run_until_disconnect,
    send_json,
)
from .batch_routes import BATCHES_PATH, BatchRoutes
from .cache import Fingerprint
from .control_routes import ControlRoutes
from .endpoints import (
    Handler,
    Request,
    method_not_allowed,
    not_found,
    paginate,
    send_api_error,
)
from .errors import ApiError, new_message_id
from .faults import magic_fault
from .message_plan import MessagePlan
from .models import MODELS, ModelSpec, find_model, model_info
from .pacing import Pacer
from .prompt import breakpoints, serialise_prompt
from .responses import send_message, send_replay
from .sse_stream import stream_message
from .state import UpstreamState


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
        self.batch_routes = BatchRoutes(self.state, self._plan)
        self.control = ControlRoutes(self.state)
        self.state.batches.answer = self.batch_routes.answer_batch_request
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/messages"): self.messages,
            ("POST", "/v1/messages/count_tokens"): self.count_tokens,
            ("GET", "/v1/models"): self.list_models,
            ("POST", BATCHES_PATH): self.batch_routes.create_batch,
            ("GET", BATCHES_PATH): self.batch_routes.list_batches,
            ("POST", "/_control/faults"): self.control.control_faults,
            ("POST", "/_control/reset"): self.control.control_reset,
            ("GET", "/_control/requests"): self.control.control_requests,
            ("POST", "/_control/pace"): self.control.control_pace,
            ("POST", "/_control/clock"): self.control.control_clock,
            ("GET", "/_control/state"): self.control.control_state,
            ("POST", "/_control/batches"): self.control.control_batches,
            ("POST", "/_control/stamps"): self.control.control_stamps,
            ("POST", "/_control/models"): self.control.control_models,
            ("GET", "/_control/stamps"): self.control.stamps,
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
            return self.batch_routes.route(request)
        if any(path == request.path for _method, path in self._routes):
            return method_not_allowed
        return not_found

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
        request_headers.check_headers(request.headers)
        body = validation.parse_body(request.body)
        strict = request_headers.is_strict(request.headers)
        model = self.state.sized(validation.validate_request(body, strict=strict))
        beta_names = request_headers.betas(request.headers)
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
        request_headers.check_headers(request.headers)
        body = validation.parse_body(request.body)
        strict = request_headers.is_strict(request.headers)
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
        request_headers.check_headers(request.headers)
        query = parse_qs(request.query)
        # By default the API lists active and deprecated models; retired ones on request.
        lifecycle = query.get("lifecycle[]") or query.get("lifecycle") or ["active", "deprecated"]
        listed = [model for model in MODELS if model.lifecycle in lifecycle]
        start, end, has_more = paginate([model.id for model in listed], query)
        page = listed[start:end]
        body = {
            "data": [model_info(model) for model in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def retrieve_model(self, request: Request, receive: Receive, send: Send) -> None:
        request_headers.check_headers(request.headers)
        model_id = request.path.removeprefix("/v1/models/")
        model = find_model(model_id)
        if model is None:
            raise ApiError(404, f"model: {model_id}")
        await send_json(send, 200, model_info(model), [("request-id", request.request_id)])

    # --- /v1/messages/batches ------------------------------------------------------------


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
