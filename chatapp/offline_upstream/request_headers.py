"""A request's headers as the API reads them: authentication (x-api-key or a bearer token)
and the API version, checked before anything else; whether the version is 2026-10-21 or later
(the strict rules); the `anthropic-beta` names.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ApiError, invalid

# The API version SDK 2.x sends; from it on the stricter rules below apply (the lenient
# 2023-06-01 behaviour stays for requests that still send the old version).
STRICT_API_VERSION = "2026-10-21"


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

