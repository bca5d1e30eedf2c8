"""The provider's endpoints from its discovery document (``<issuer>/.well-known/openid-
configuration``), remembered per process for an hour; a failure is remembered for a few
seconds, so that a provider that is down is not asked on every page load."""

import threading
import time
from dataclasses import dataclass

import requests
from django.conf import settings

from chatapp.accounts import errors

KEEP_SECONDS = 3600
KEEP_FAILURE_SECONDS = 10


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    userinfo: str | None
    jwks: str


_lock = threading.Lock()
_known: dict[str, tuple[float, Endpoints | errors.SignInFailed]] = {}


def endpoints() -> Endpoints:
    """The configured issuer's endpoints, or SignInFailed when its document cannot be had."""
    issuer = settings.OIDC_ISSUER
    with _lock:
        kept = _known.get(issuer)
        if kept is None or kept[0] < time.monotonic():
            found = _discover(issuer)
            keep = KEEP_SECONDS if isinstance(found, Endpoints) else KEEP_FAILURE_SECONDS
            kept = _known[issuer] = (time.monotonic() + keep, found)
    if isinstance(kept[1], errors.SignInFailed):
        raise kept[1]
    return kept[1]


def forget() -> None:
    with _lock:
        _known.clear()


def _discover(issuer: str) -> Endpoints | errors.SignInFailed:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        return errors.unreachable(f"its discovery document: {type(exc).__name__}")
    # OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer exactly as
    # configured, or its tokens would fail (or worse, pass) the issuer check.
    if document.get("issuer") != issuer:
        return errors.untrusted(
            f"its discovery document names the issuer {document.get('issuer')!r}, "
            f"not {issuer!r}", "issuer_mismatch",
        )
    try:
        return Endpoints(
            authorization=document["authorization_endpoint"],
            token=document["token_endpoint"],
            userinfo=document.get("userinfo_endpoint"),
            jwks=document["jwks_uri"],
        )
    except KeyError as exc:
        return errors.untrusted(f"its discovery document lacks {exc.args[0]}", "bad_discovery")
