"""The offline upstream's Message Batches routes (/v1/messages/batches…): create, list,
retrieve, cancel, delete, results as JSON Lines (a download can be cut short on request);
each request of a batch answered like a plain /v1/messages request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from . import batches, binding, request_headers, validation
from .asgi import ConnectionDropped, Receive, Send, send_body, send_json, start_response
from .endpoints import Handler, Request, method_not_allowed, not_found, paginate
from .errors import ApiError, invalid, new_request_id
from .message_plan import MessagePlan
from .models import LONG_OUTPUT_BETA
from .state import UpstreamState

BATCHES_PATH = "/v1/messages/batches"
# Counts, checks and composes a reply: (body the model sees, model, request id, body as sent).
Plan = Callable[..., MessagePlan]


class BatchRoutes:
    """The batch handlers of one upstream, over its `state`; `plan` is its reply planner."""

    def __init__(self, state: UpstreamState, plan: Plan) -> None:
        self.state = state
        self.plan = plan

    def route(self, request: Request) -> Handler:
        """…/{id} (GET, DELETE), …/{id}/cancel (POST), …/{id}/results (GET)."""
        _batch_id, _, action = request.path.removeprefix(BATCHES_PATH + "/").partition("/")
        handlers = {
            "": {"GET": self.retrieve_batch, "DELETE": self.delete_batch},
            "cancel": {"POST": self.cancel_batch},
            "results": {"GET": self.batch_results},
        }.get(action)
        if handlers is None:
            return not_found
        return handlers.get(request.method, method_not_allowed)

    @staticmethod
    def _batch_id(request: Request) -> str:
        return request.path.removeprefix(BATCHES_PATH + "/").partition("/")[0]

    async def _send_batch(self, request: Request, send: Send, batch: batches.Batch) -> None:
        body = batch.as_json(request.base_url)
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def create_batch(self, request: Request, receive: Receive, send: Send) -> None:
        request_headers.check_headers(request.headers)
        requests = batches.parse_create(request.body)
        beta_names = request_headers.betas(request.headers)
        options = batches.BatchOptions(
            long_output=LONG_OUTPUT_BETA in beta_names,
            strict=request_headers.is_strict(request.headers),
            betas=beta_names,
        )
        for _custom_id, params in requests:
            self.state.record_body(
                request.path, request.query, request.headers, params, batch_request=True
            )
        batch = self.state.batches.create(requests, options)
        await self._send_batch(request, send, batch)

    async def retrieve_batch(self, request: Request, receive: Receive, send: Send) -> None:
        request_headers.check_headers(request.headers)
        await self._send_batch(request, send, self.state.batches.get(self._batch_id(request)))

    async def cancel_batch(self, request: Request, receive: Receive, send: Send) -> None:
        request_headers.check_headers(request.headers)
        await self._send_batch(request, send, self.state.batches.cancel(self._batch_id(request)))

    async def delete_batch(self, request: Request, receive: Receive, send: Send) -> None:
        request_headers.check_headers(request.headers)
        batch_id = self._batch_id(request)
        self.state.batches.delete(batch_id)
        body = {"id": batch_id, "type": "message_batch_deleted"}
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def list_batches(self, request: Request, receive: Receive, send: Send) -> None:
        request_headers.check_headers(request.headers)
        listed = self.state.batches.newest_first()
        start, end, has_more = paginate([batch.id for batch in listed], parse_qs(request.query))
        page = listed[start:end]
        body = {
            "data": [batch.as_json(request.base_url) for batch in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
        await send_json(send, 200, body, [("request-id", request.request_id)])

    async def batch_results(self, request: Request, receive: Receive, send: Send) -> None:
        request_headers.check_headers(request.headers)
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

    def answer_batch_request(
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
            plan = self.plan(checked.body, model, request_id, bound_to=params)
            if binding.BINDING_BETA in options.betas:
                plan.input_transformations = checked.transformations
        except ApiError as error:
            return {"type": "errored", "error": error.body(request_id)}
        message = plan.refused_message(fault) if fault else plan.whole_message()
        message["usage"]["service_tier"] = "batch"
        return {"type": "succeeded", "message": message}

    # --- /_control ----------------------------------------------------------------------
