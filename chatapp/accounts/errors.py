"""Why a sign-in through the provider failed, in words for the person trying."""

from django.conf import settings

from chatapp.errors import ChatappError


class SignInFailed(ChatappError):
    """A sign-in through the OpenID provider that did not happen; nobody is signed in."""

    code = "sign_in_failed"


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME


def state_mismatch() -> SignInFailed:
    return SignInFailed(
        "This sign-in was not started in this browser, or it was already used, so it cannot "
        "be trusted.", code="state_mismatch",
    )


def unreachable(detail: str) -> SignInFailed:
    return SignInFailed(
        f"{provider_name()} could not be reached ({detail}). Try again in a moment; if it "
        "keeps failing, tell an administrator.", 502, code="provider_unreachable",
    )


def untrusted(what: str, code: str) -> SignInFailed:
    """The provider's answer came back but fails a check: never sign anyone in with it."""
    return SignInFailed(
        f"The answer from {provider_name()} could not be trusted: {what}. Nobody was signed "
        "in. If this keeps happening, tell an administrator.", code=code,
    )


def refused(error: str, description: str = "") -> SignInFailed:
    """The provider itself said no (``error`` in the redirect, or from its token endpoint)."""
    if error in ("login_required", "interaction_required", "consent_required"):
        return SignInFailed(
            f"{provider_name()} no longer confirms your sign-in, so you were signed out here. "
            "Sign in again to continue.", 401, code="provider_refused",
        )
    said = f": {description}" if description else ""
    return SignInFailed(
        f"{provider_name()} did not sign you in ({error}{said}).", 403, code="provider_refused",
    )


def deactivated() -> SignInFailed:
    return SignInFailed(
        "Your account here is deactivated. Ask an administrator if you should have access.",
        403, code="account_deactivated",
    )
