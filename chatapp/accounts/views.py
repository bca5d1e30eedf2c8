"""The two ends of the redirect dance, thin: mozilla-django-oidc's views, with the endpoint
from discovery and every failure shown as a page that says what went wrong."""

from django.conf import settings
from django.contrib import admin, auth
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from chatapp import audit
from chatapp.accounts import discovery, errors


def library_setting(name: str, *default):
    """mozilla-django-oidc's settings; its OIDC_OP_* endpoints come from discovery instead,
    set where a request needs them."""
    if name.startswith("OIDC_OP_"):
        return None
    return import_from_settings(name, *default)


def sign_in_failed(request: HttpRequest, failure: errors.SignInFailed) -> HttpResponse:
    """Nobody signed in, and a page that says why, with a way to try again."""
    auth.logout(request)
    audit.record(audit.AuditAction.SIGN_IN_FAILED, request, user=None,
                 detail={"provider": settings.OIDC_PROVIDER_NAME, "code": failure.code})
    context = {"message": failure.message, "code": failure.code,
               "provider_name": settings.OIDC_PROVIDER_NAME}
    return render(request, "registration/sign_in_failed.html", context,
                  status=failure.http_status)


def admin_login(request: HttpRequest) -> HttpResponse:
    """/admin/login/: the admin's own password form, unless passwords are off
    (CHATAPP_LOCAL_PASSWORDS=false): then the login page, which offers the provider."""
    if settings.CHATAPP_LOCAL_PASSWORDS:
        return admin.site.login(request)
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


def _enabled() -> None:
    if not settings.OIDC_ISSUER:
        raise Http404("Single sign-on is not configured")


class SignInStart(OIDCAuthenticationRequestView):
    """GET /oidc/authenticate/?next=...: off to the provider's authorization endpoint with
    state, nonce and a PKCE challenge (S256) kept in the session."""

    get_settings = staticmethod(library_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        _enabled()
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery.endpoints().authorization
        except errors.SignInFailed as failure:
            return sign_in_failed(request, failure)
        return super().get(request)


class SignInCallback(OIDCAuthenticationCallbackView):
    """GET /oidc/callback/?code=...&state=...: where the provider sends the browser back."""

    get_settings = staticmethod(library_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        _enabled()
        params = request.GET
        known = request.session.get("oidc_states") or {}
        try:
            if params.get("state") not in known:
                raise errors.state_mismatch()
            # RFC 9207: a provider that names itself must be the one we sent the person to.
            if "iss" in params and params["iss"] != settings.OIDC_ISSUER:
                raise errors.untrusted("the answer came from another provider", "wrong_issuer")
            if "error" in params:  # signing out (below) forgets the state too
                raise errors.refused(params["error"], params.get("error_description", ""))
            if "code" not in params:
                raise errors.untrusted("it carried no authorization code", "no_code")
            return super().get(request)
        except errors.SignInFailed as failure:
            return sign_in_failed(request, failure)

    def login_failure(self) -> HttpResponse:
        # Reached only when authenticate() found no user without saying why.
        raise errors.untrusted("it did not name anyone", "no_user")
