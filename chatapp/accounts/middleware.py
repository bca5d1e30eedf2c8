"""A session that came through the provider is re-checked with it every
OIDC_RECHECK_MINUTES: mozilla-django-oidc's SessionRefresh sends the next page load to the
provider with prompt=none. A person the provider no longer knows comes back with an error and
is signed out (SignInCallback); one it still knows comes back signed in, groups brought up to
date."""

import logging
import time

from django.http import HttpRequest, HttpResponse
from mozilla_django_oidc.middleware import SessionRefresh

from chatapp.accounts import discovery, errors
from chatapp.accounts.views import library_setting

log = logging.getLogger(__name__)


class ProviderRecheck(SessionRefresh):
    get_settings = staticmethod(library_setting)

    def is_refreshable_url(self, request: HttpRequest) -> bool:
        # Only a page the browser navigates to: the pages' own fetch() calls cannot follow a
        # redirect to another origin, and the next page load re-checks anyway.
        navigation = request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"
        return navigation and super().is_refreshable_url(request)

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if not self.is_refreshable_url(request):
            return None
        if request.session.get("oidc_id_token_expiration", 0) > time.time():
            return None
        try:
            self.OIDC_OP_AUTHORIZATION_ENDPOINT = discovery.endpoints().authorization
        except errors.SignInFailed as failure:
            # The provider is down: the person keeps working, and is re-checked once it is back.
            log.warning("Cannot re-check a single sign-on session: %s", failure.message)
            return None
        return super().process_request(request)
