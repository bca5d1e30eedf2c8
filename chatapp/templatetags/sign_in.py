"""{% sign_in_options as sign_in %}: what the login page offers (docs/single-sign-on.md)."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def sign_in_options() -> dict:
    """``provider``: the name on "Sign in with <name>" (empty without single sign-on);
    ``passwords``: whether the username and password form is offered."""
    return {
        "provider": settings.OIDC_PROVIDER_NAME if settings.OIDC_ISSUER else "",
        "passwords": settings.CHATAPP_LOCAL_PASSWORDS,
    }
