"""/oidc/...: the names are mozilla-django-oidc's, which it reverses itself."""

from django.urls import path
from mozilla_django_oidc.views import OIDCLogoutView

from chatapp.accounts.views import SignInCallback, SignInStart

urlpatterns = [
    path("authenticate/", SignInStart.as_view(), name="oidc_authentication_init"),
    path("callback/", SignInCallback.as_view(), name="oidc_authentication_callback"),
    # SessionRefresh exempts it by name; the app's own logout stays /accounts/logout/.
    path("logout/", OIDCLogoutView.as_view(), name="oidc_logout"),
]
