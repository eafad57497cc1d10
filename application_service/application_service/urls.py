"""Project URLs: the admin, then each application's own urls.py."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from application.login import LoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("application.api.urls")),
    path("", include("application.urls")),
]

# Errors outside any view: JSON in the API's one error shape under /api/, Django's pages elsewhere.
handler400 = "application.api.exceptions.bad_request"
handler403 = "application.api.exceptions.permission_denied"
handler404 = "application.api.exceptions.page_not_found"
handler500 = "application.api.exceptions.server_error"
