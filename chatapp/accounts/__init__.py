"""Single sign-on with OpenID Connect (docs/single-sign-on.md): the edge where people come in
from the company's identity provider. mozilla-django-oidc does the protocol (authorization
code with PKCE, state, nonce, the JWKS); this package adds discovery, the ID token's claims
checks, who the person is here (users and groups), and pages that say what went wrong."""
