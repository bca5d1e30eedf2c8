"""The authentication backend for sign-ins through the OpenID provider: mozilla-django-oidc's,
with the provider's endpoints from discovery and the ID token checked in full."""

from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from chatapp.accounts import discovery, errors, people

# Seconds of clock difference with the provider forgiven in exp and iat.
LEEWAY_SECONDS = 30


class ProviderBackend(OIDCAuthenticationBackend):
    """Authenticates the callback of the authorization code flow: code (with the PKCE
    verifier) for tokens, the ID token verified, userinfo read, the user signed in here
    (``people.signed_in``). Every failure is a SignInFailed that says why.

    The library's ``__init__`` reads every endpoint up front, and Django builds a backend for
    every request's ``get_user``: here they are properties read when a sign-in needs them, so
    that serving a page never waits for the provider's discovery document."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.UserModel = get_user_model()

    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return settings.OIDC_RP_CLIENT_ID

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return settings.OIDC_RP_CLIENT_SECRET

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return discovery.endpoints().token

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str | None:
        return discovery.endpoints().userinfo

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return discovery.endpoints().jwks

    def authenticate(self, request, **kwargs: Any):
        if not settings.OIDC_ISSUER or request is None or "nonce" not in kwargs:
            return None  # a password login, or single sign-on is off
        try:
            return super().authenticate(request, **kwargs)
        except requests.HTTPError as exc:
            raise _token_refusal(exc) from exc
        except requests.RequestException as exc:
            raise errors.unreachable(type(exc).__name__) from exc

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        if not token:
            raise errors.untrusted("it carried no ID token", "no_id_token")
        try:
            return super().verify_token(token, **kwargs)
        except SuspiciousOperation as exc:  # the library's own checks: key id, nonce
            if "nonce" in str(exc).lower():
                raise errors.untrusted("the ID token was not issued for this sign-in (nonce)",
                                       "bad_nonce") from exc
            raise errors.untrusted(
                "the ID token is signed with a key the provider does not publish",
                "bad_signature",
            ) from exc

    def get_payload_data(self, token: bytes, key: Any) -> dict[str, Any]:
        """The ID token's claims, checked by PyJWT: the provider's signature (RS256 only), the
        issuer, this application as the audience, not expired, issued (and saying when)."""
        try:
            payload = jwt.decode(
                token, key, algorithms=[self.OIDC_RP_SIGN_ALGO], audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER, leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidAudienceError as exc:
            raise errors.untrusted("the ID token was issued to another application "
                                   "(wrong audience)", "wrong_audience") from exc
        except jwt.ExpiredSignatureError as exc:
            raise errors.untrusted("the ID token has expired (is this server's clock right?)",
                                   "expired_token") from exc
        except jwt.InvalidSignatureError as exc:
            raise errors.untrusted("the ID token's signature does not match the provider's "
                                   "keys", "bad_signature") from exc
        except jwt.InvalidIssuerError as exc:
            raise errors.untrusted("the ID token comes from another issuer",
                                   "wrong_issuer") from exc
        except jwt.InvalidTokenError as exc:
            raise errors.untrusted(f"the ID token is not valid ({exc})", "bad_token") from exc
        # Several audiences: the authorized party must be us (OpenID Connect Core 3.1.3.7).
        audiences = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
        if len(audiences) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise errors.untrusted("the ID token was issued to another application (azp)",
                                   "wrong_audience")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict) -> dict[str, Any]:
        """The ID token's claims, completed by the userinfo endpoint (many providers put e-mail
        and groups only there); both must be about the same person."""
        if not self.OIDC_OP_USER_ENDPOINT:
            return payload
        info = super().get_userinfo(access_token, id_token, payload)
        if info.get("sub") != payload["sub"]:
            raise errors.untrusted("its userinfo is about someone else", "userinfo_mismatch")
        return {**payload, **info}

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict):
        return people.signed_in(self.get_userinfo(access_token, id_token, payload))

    def get_user(self, user_id):
        """The session's user, as Django's ModelBackend does it: not a deactivated one (the
        library's would keep a deactivated user signed in until the session ended)."""
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


def _token_refusal(exc: requests.HTTPError) -> errors.SignInFailed:
    """The token endpoint said no (RFC 6749 5.2: an ``error`` in a JSON body), or failed."""
    response = exc.response
    try:
        body = response.json()
        return errors.refused(str(body["error"]), str(body.get("error_description", "")))
    except (ValueError, KeyError, TypeError, AttributeError):
        status = getattr(response, "status_code", "no answer")
        return errors.unreachable(f"its token endpoint answered {status}")
