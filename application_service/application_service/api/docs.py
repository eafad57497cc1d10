"""The OpenAPI schema and Swagger UI: for anyone or for signed-in users only (API_DOCS_PUBLIC),
the schema built once per process, the page under the Content-Security-Policy without
'unsafe-inline' (its inline script and style carry the request's nonce: api/docs.html)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import get_language
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.settings import api_settings


def docs_permissions() -> list[BasePermission]:
    return [AllowAny()] if settings.API_DOCS_PUBLIC else [IsAuthenticated()]


class CachedSchemaGenerator(SchemaGenerator):
    """The schema depends on the code alone (SERVE_PUBLIC: not on who asks), which changes only
    with a new process: build it once per version and language, then answer from memory.

    Only a version and a language the service has are kept: ?lang= and ?version= take any text,
    and each would otherwise fill memory with one more schema.
    """

    schemas: ClassVar[dict[tuple, dict[str, Any]]] = {}

    def get_schema(self, request=None, public=False) -> dict[str, Any]:
        version, language = self.api_version or getattr(request, "version", None), get_language()
        key = (version, public, language)
        if key in self.schemas:
            return self.schemas[key]
        schema = super().get_schema(request=request, public=public)
        if known(version, language):
            self.schemas[key] = schema
        return schema


def known(version: str | None, language: str | None) -> bool:
    languages = {settings.LANGUAGE_CODE, *dict(settings.LANGUAGES)}
    return language in languages and (version is None or version in (api_settings.ALLOWED_VERSIONS or ()))


@receiver(setting_changed)
def forget_schemas(*, setting: str, **kwargs) -> None:
    """Tests that change what the schema is made of get a new one."""
    if setting in {"SPECTACULAR_SETTINGS", "REST_FRAMEWORK", "ROOT_URLCONF", "INSTALLED_APPS"}:
        CachedSchemaGenerator.schemas.clear()


class SchemaView(SpectacularAPIView):
    generator_class = CachedSchemaGenerator

    def get_permissions(self) -> list[BasePermission]:
        return docs_permissions()


class DocsView(SpectacularSwaggerView):
    template_name = "api/docs.html"

    def get_permissions(self) -> list[BasePermission]:
        return docs_permissions()

    def handle_exception(self, exc: Exception):
        if isinstance(exc, NotAuthenticated):  # a person, in a browser: the login page, then back
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
