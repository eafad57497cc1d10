"""/api/: the OpenAPI schema, the Swagger UI, and the API's own 404 (the versions are in the root urls).

Who may read the schema and the docs: API_DOCS_PUBLIC (application_service/api/docs.py).
"""

from django.urls import path, re_path

from application_service.api import exceptions
from application_service.api.docs import DocsView, SchemaView

app_name = "api"

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
    # Last: any other address under /api/ is a 404 in the error shape, with DEBUG on too.
    re_path(r"", exceptions.api_not_found),
]
