"""Who signed in through the OpenID provider: the provider's stable name for a person (its
issuer and the ID token's ``sub``), linked to the Django user it signs in."""

from django.conf import settings
from django.db import models


class ProviderIdentity(models.Model):
    """One person at one OpenID provider. The pair (issuer, subject) is the only identifier
    OpenID Connect promises never to change or reuse; e-mail addresses and usernames may."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "provider identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_issuer_subject"),
            models.UniqueConstraint(fields=["user", "issuer"], name="identity_user_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
