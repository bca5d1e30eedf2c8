"""Writing a non-streamed /v1/messages answer: the whole message as JSON after its generation
time, faults included; and a recorded body replayed byte for byte. The streamed answer is in
sse_stream.py, the plan of a reply in message_plan.py, its pacing in pacing.py.
"""

from __future__ import annotations

import asyncio
import re

from .asgi import ConnectionDropped, Headers, Send, dump_json, send_body, start_response
from .faults import Fault
from .message_plan import MessagePlan
from .pacing import Pacer


def json_headers(request_id: str, length: int) -> Headers:
    return [
        ("content-type", "application/json"),
        ("content-length", str(length)),
        ("request-id", request_id),
    ]



async def send_message(send: Send, plan: MessagePlan, pacer: Pacer, fault: Fault | None) -> None:
    """Answer a non-streamed request: the whole message as JSON, after its generation time."""
    reply = plan.reply
    if fault is not None and fault.kind == "stall":
        await asyncio.sleep(fault.seconds)
    if fault is not None and fault.kind == "refusal":
        body = plan.refused_message(fault)
    else:
        await pacer.wait(reply.output_tokens)
        body = plan.whole_message()
    data = dump_json(body)
    await start_response(send, 200, json_headers(plan.request_id, len(data)))
    if fault is not None and fault.kind == "drop":
        # Half a body under a full content-length: the client sees the connection cut.
        await send_body(send, data[: len(data) // 2], more=True)
        raise ConnectionDropped
    await send_body(send, data)


async def send_replay(send: Send, request_id: str, fault: Fault) -> None:
    """Serve a recorded body byte for byte (HTTP 200), one SSE event per chunk."""
    await start_response(
        send, 200, [("content-type", fault.content_type), ("request-id", request_id)]
    )
    for chunk in re.split(rb"(?<=\n\n)", fault.body.encode()):
        if chunk:
            await send_body(send, chunk, more=True)
    await send_body(send, b"")
