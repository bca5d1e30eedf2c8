from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The cost review lives in the admin (admin.site.admin_view), ahead of its catch-all.
    path("admin/costs/", include("chatapp.cost_review")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("chatapp.urls")),
]
