"""Single sign-on switched on against the real OpenID provider (tests/openid_provider.py);
the app is Django's test client, the person's browser at the provider is plain HTTP."""

import base64
import hashlib
import urllib.parse
import uuid
from dataclasses import dataclass

import pytest
from django.test import Client

from chatapp.accounts import discovery
from tests.openid_provider import CLIENT_ID, CLIENT_SECRET, OpenIDProvider, Person

APP = "http://testserver"
PROVIDER_NAME = "Example Login"


@pytest.fixture
def sso(settings, openid_provider, db):
    """The settings OIDC_ISSUER and friends give (config/settings.py), for this test."""
    settings.OIDC_ISSUER = openid_provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = PROVIDER_NAME
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS, "chatapp.accounts.backends.ProviderBackend"
    ]
    auth = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[: auth + 1],
                           "chatapp.accounts.middleware.ProviderRecheck",
                           *settings.MIDDLEWARE[auth + 1:]]
    discovery.forget()
    yield openid_provider
    openid_provider.set_fault(None)
    discovery.forget()


@dataclass
class Someone:
    """A person known to the provider, with their own browser (app session + provider's)."""

    sub: str
    password: str
    provider: OpenIDProvider
    client: Client
    person: Person

    def start(self, next_url: str = "") -> str:
        """Click "Sign in with ...": the URL of the provider the app redirects to."""
        path = "/oidc/authenticate/" + (f"?next={next_url}" if next_url else "")
        response = self.client.get(path)
        assert response.status_code == 302, response.content
        return response["Location"]

    def at_provider(self, url: str, log_in: bool = True) -> str:
        return self.person.at_provider(url, APP, self.sub if log_in else None, self.password)

    def sign_in(self, next_url: str = ""):
        """The whole dance: the app's answer to the provider's redirect back."""
        return self.client.get(self.at_provider(self.start(next_url)))

    @property
    def signed_in(self) -> bool:
        return "_auth_user_id" in self.client.session


@pytest.fixture
def someone(sso):
    """Make people at the provider: ``someone(groups=[...], email=...)``."""

    def make(**claims) -> Someone:
        sub = f"person-{uuid.uuid4().hex[:10]}"
        claims = {"email": f"{sub}@example.com", "email_verified": True,
                  "preferred_username": sub, **claims}
        sso.add_person(sub, "provider-password", **claims)
        return Someone(sub, "provider-password", sso, Client(), Person())

    return make


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
