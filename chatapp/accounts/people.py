"""Who a person from the provider is here: found by the provider's (issuer, sub), else linked
to the one local account with their verified e-mail, else created; then brought up to date
from the claims, groups included, at every sign-in and every re-check."""

import re
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from chatapp.accounts import errors
from chatapp.models import ProviderIdentity

USERNAME_MAX = 150
_NOT_IN_USERNAME = re.compile(r"[^\w.@+-]")


def signed_in(claims: dict[str, Any]) -> AbstractUser:
    """The user these verified claims sign in, created or updated; SignInFailed when the
    account here is deactivated."""
    try:
        return _signed_in(claims)
    except IntegrityError:
        # Another first sign-in created this identity (or took this username) meanwhile: the
        # second look finds it (or picks the next free name).
        return _signed_in(claims)


def _signed_in(claims: dict[str, Any]) -> AbstractUser:
    issuer, subject = settings.OIDC_ISSUER, str(claims["sub"])
    with transaction.atomic():
        identity = (
            ProviderIdentity.objects.select_for_update().select_related("user")
            .filter(issuer=issuer, subject=subject).first()
        )
        if identity is None:
            user = _local_account(claims) or _new_user(claims)
            identity = ProviderIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        user = identity.user
        # A deactivation by staff stands: the provider does not switch an account back on.
        if not user.is_active:
            raise errors.deactivated()
        _update(user, claims)
        if settings.OIDC_GROUPS_CLAIM:
            _set_groups(user, claims.get(settings.OIDC_GROUPS_CLAIM))
        identity.last_sign_in = timezone.now()
        identity.save(update_fields=["last_sign_in"])
    return user


def _local_account(claims: dict[str, Any]) -> AbstractUser | None:
    """An existing account (from before single sign-on) with this e-mail address, taken over
    only when the provider vouches for the address and no other identity has it already."""
    email = claims.get("email")
    if not email or claims.get("email_verified") is not True:
        return None
    users = list(
        get_user_model().objects.filter(email__iexact=email)
        .exclude(provider_identities__issuer=settings.OIDC_ISSUER)[:2]
    )
    return users[0] if len(users) == 1 else None


def _new_user(claims: dict[str, Any]) -> AbstractUser:
    User = get_user_model()
    wanted = claims.get("preferred_username") or (claims.get("email") or "").split("@")[0]
    base = _NOT_IN_USERNAME.sub("", str(wanted))[: USERNAME_MAX - 8] or "user"
    username, n = base, 1
    while User.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{base}-{n}"
    user = User(username=username)
    user.set_unusable_password()  # signs in through the provider only
    user.save()
    return user


def _update(user: AbstractUser, claims: dict[str, Any]) -> None:
    fields = {"email": "email", "first_name": "given_name", "last_name": "family_name"}
    changed = []
    for field, claim in fields.items():
        value = claims.get(claim)
        if isinstance(value, str):
            value = value[: user._meta.get_field(field).max_length]
            if getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
    if changed:
        user.save(update_fields=changed)


def _set_groups(user: AbstractUser, claimed: Any) -> None:
    """The user's groups become exactly those the claim names (created when new): a group
    removed at the provider is removed here. A missing claim means no groups."""
    if isinstance(claimed, str):
        claimed = [claimed]
    names = {
        name.strip()[:150] for name in (claimed or [])
        if isinstance(name, str) and name.strip()
    }
    groups = [Group.objects.get_or_create(name=name)[0] for name in sorted(names)]
    user.groups.set(groups)
