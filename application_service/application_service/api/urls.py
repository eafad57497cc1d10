"""/api/: the OpenAPI schema, the Swagger UI, and the API's own 404 (the versions are in the root urls)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from application_service.api import exceptions

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Last: any other address under /api/ is a 404 in the error shape, with DEBUG on too.
    re_path(r"", exceptions.api_not_found),
]
