"""Project URLs: the admin, then each application's own urls.py."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("application.urls")),
]
