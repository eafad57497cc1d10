"""The schema and Swagger UI: who may read them (API_DOCS_PUBLIC), the schema built once, the
page's inline code allowed by its nonce alone."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from application_service.api.docs import CachedSchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated(monkeypatch) -> list[int]:
    """Counts the schema's generations (drf-spectacular's generator, under any subclass)."""
    CachedSchemaGenerator.schemas.clear()
    calls: list[int] = []
    original = SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    yield calls
    CachedSchemaGenerator.schemas.clear()


def test_the_schema_is_built_once_then_served_from_memory(anonymous, generated):
    first = anonymous.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert first.status_code == 200 and len(generated) == 1
    for accept in ("application/json", "application/vnd.oai.openapi"):  # JSON and YAML alike
        again = anonymous.get("/api/schema/", HTTP_ACCEPT=accept)
        assert again.status_code == 200
    assert len(generated) == 1
    assert anonymous.get("/api/schema/", HTTP_ACCEPT="application/json").content == first.content


def test_only_the_service_s_own_versions_and_languages_are_kept(anonymous, generated):
    for query in ("?lang=xx-made-up", "?version=made-up", "?lang=xx-made-up"):
        assert anonymous.get(f"/api/schema/{query}").status_code == 200
    assert len(generated) == 3 and CachedSchemaGenerator.schemas == {}  # built, answered, not kept
    anonymous.get("/api/schema/")
    anonymous.get("/api/schema/?lang=de")  # a language Django has: kept too
    anonymous.get("/api/schema/?lang=de")
    assert len(generated) == 5 and len(CachedSchemaGenerator.schemas) == 2


def test_docs_are_public_by_default_outside_production(anonymous, settings):
    assert settings.API_DOCS_PUBLIC is True
    assert anonymous.get("/api/schema/").status_code == 200
    assert anonymous.get("/api/docs/").status_code == 200


def test_private_docs_send_strangers_to_sign_in_and_answer_signed_in_users(anonymous, author, settings):
    settings.API_DOCS_PUBLIC = False
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 401
    assert schema.json()["code"] == "not_authenticated"
    assert "/api/v1/" not in schema.content.decode()
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"] == "/accounts/login/?next=/api/docs/"

    anonymous.force_login(author)  # the browser's session, which Swagger UI sends with its request
    assert anonymous.get("/api/docs/").status_code == 200
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200 and "/api/v1/messages/" in schema.json()["paths"]


def test_the_docs_page_s_inline_code_carries_the_nonce_its_policy_names(anonymous):
    response = anonymous.get("/api/docs/")
    policy = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    [nonce] = set(re.findall(r"'nonce-([^']+)'", policy))
    assert f"script-src 'self' 'nonce-{nonce}'" in policy and f"style-src 'self' 'nonce-{nonce}'" in policy
    page = response.content.decode()
    inline = re.findall(r"<(script|style)(\s[^>]*)?>\s*[^<\s]", page)  # elements with a body
    assert [tag for tag, _ in inline] == ["style", "script"]
    assert all(f'nonce="{nonce}"' in attributes for _, attributes in inline)
    assert "SwaggerUIBundle(" in page
    assert anonymous.get("/api/docs/")["Content-Security-Policy"] != policy  # one nonce per answer
