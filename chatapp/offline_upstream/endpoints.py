"""What every endpoint of the offline upstream shares: the request as handlers see it, the
handler type, the API's JSON errors (404, 405 and every ``ApiError``), a number field of a
control body, and lists paged as the API pages them (``limit``, ``after_id``, ``before_id``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from .asgi import Receive, Scope, Send, header_map, send_json
from .errors import ApiError, invalid, new_request_id

MAX_PAGE = 1000
DEFAULT_PAGE = 20


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



async def not_found(request: Request, receive: Receive, send: Send) -> None:
    raise ApiError(404, "Not Found")


async def method_not_allowed(request: Request, receive: Receive, send: Send) -> None:
    raise ApiError(405, "Method Not Allowed")


def number_field(request: Request, name: str) -> float | None:
    try:
        value = request.json().get(name)
    except (ValueError, AttributeError):
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None


def paginate(ids: list[str], query: dict[str, list[str]]) -> tuple[int, int, bool]:
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
        end = cursor_index(ids, before)
        start = max(0, end - limit)
        return start, end, start > 0
    start = cursor_index(ids, after) + 1 if after is not None else 0
    end = min(start + limit, len(ids))
    return start, end, end < len(ids)


def cursor_index(ids: list[str], cursor: str) -> int:
    if cursor not in ids:
        raise invalid(f"Invalid cursor: {cursor}")
    return ids.index(cursor)

