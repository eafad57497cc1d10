"""Project URLs: the platform (admin, accounts, the API's schema and docs), then each app's urls.

A new app adds its pages below and its API endpoints to `api_v1`; removing the sample app is
removing its two lines.
"""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("application.api.urls")),
]

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),  # admin/ unless ADMIN_URL says otherwise
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include((api_v1, "v1"))),
    path("api/", include("application_service.api.urls")),
    path("", include("application.urls")),
]

# Errors outside any view: JSON in the API's one error shape under /api/, Django's pages elsewhere.
handler400 = "application_service.api.exceptions.bad_request"
handler403 = "application_service.api.exceptions.permission_denied"
handler404 = "application_service.api.exceptions.page_not_found"
handler500 = "application_service.api.exceptions.server_error"
