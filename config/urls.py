from django.conf import settings
from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.urls import include, path

from chatapp.accounts.views import admin_login
from chatapp.web import probes
from chatapp.web.pages import ThrottledPasswordResetView


def _account_pages() -> list:
    """Django's login, logout and password change pages; the password reset pages only when
    mail is configured (EMAIL_HOST): without it they would take any address and fail to send
    (docs/security.md). The reset form itself is throttled per address."""
    pages = [
        pattern for pattern in auth_urls.urlpatterns
        if settings.CHATAPP_PASSWORD_RESET or not pattern.name.startswith("password_reset")
    ]
    if settings.CHATAPP_PASSWORD_RESET:
        throttled = path("password_reset/", ThrottledPasswordResetView.as_view(),
                         name="password_reset")
        pages = [throttled if p.name == "password_reset" else p for p in pages]
    return pages


urlpatterns = [
    # Probes and metrics (docs/operations.md): no login; metrics ask for a token or staff.
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", probes.metrics_view, name="metrics"),
    # The cost review lives in the admin (admin.site.admin_view), ahead of its catch-all.
    path("admin/costs/", include("chatapp.web.cost_review")),
    # Without local passwords the admin's password form sends people to the login page.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include(_account_pages())),
    # Single sign-on (docs/single-sign-on.md); 404 unless OIDC_ISSUER is set.
    path("oidc/", include("chatapp.accounts.urls")),
    path("", include("chatapp.web.urls")),
]
