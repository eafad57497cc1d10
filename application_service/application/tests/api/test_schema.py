"""The OpenAPI schema and Swagger UI: complete, valid, served without any CDN."""

from __future__ import annotations

import re

import pytest
import yaml
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v1/messages/", "get"), ("/api/v1/messages/", "post"),
    ("/api/v1/messages/{message_id}/", "get"), ("/api/v1/messages/{message_id}/", "patch"),
    ("/api/v1/messages/{message_id}/", "delete"),
    ("/api/v1/auth/token/", "post"), ("/api/v1/auth/token/", "delete"),
    ("/api/v1/auth/tokens/", "get"), ("/api/v1/auth/tokens/", "delete"),
    ("/api/v1/auth/tokens/{token_key}/", "delete"),
    ("/api/v1/auth/me/", "get"),
    ("/api/v1/counter/", "get"), ("/api/v1/counter/increment/", "post"),
}


@pytest.fixture
def schema(anonymous) -> dict:
    response = anonymous.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    return yaml.safe_load(response.content)


def api_routes(resolver=None, prefix="") -> set[str]:
    routes = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes |= api_routes(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v"):
            routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return routes


def test_schema_is_valid_openapi_3(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_every_endpoint_and_operation_is_documented(schema):
    documented = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert documented == OPERATIONS
    assert {path for path, _ in OPERATIONS} == api_routes()


def test_every_operation_documents_its_errors_in_the_one_shape(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert "429" in codes, (path, method)
            if method in {"post", "patch"} and "requestBody" in operation:
                assert {"400", "413", "415"} <= codes, (path, method)
            if "{" in path:
                assert "404" in codes, (path, method)
            if operation.get("security") != [] and path != "/api/v1/auth/token/" or method == "delete":
                assert "401" in codes, (path, method)
            if operation.get("parameters"):
                assert "content" not in operation["responses"]["414"]  # gunicorn's, not ours
            for code, response in operation["responses"].items():
                if code >= "400" and code != "414":
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}
    assert "Retry-After" in schema["paths"]["/api/v1/messages/"]["get"]["responses"]["429"]["headers"]
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message"]


def test_auth_schemes_are_documented(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["knoxApiToken"]["type"] == "apiKey" and schemes["knoxApiToken"]["in"] == "header"
    assert schemes["knoxApiToken"]["name"] == "Authorization"
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert schema["paths"]["/api/v1/auth/token/"]["post"].get("security", []) == []
    # Revoking "the token used" needs a token: a session has none.
    assert schema["paths"]["/api/v1/auth/token/"]["delete"]["security"] == [{"knoxApiToken": []}]


def test_an_issued_token_is_the_only_answer_with_a_key(schema):
    components = schema["components"]["schemas"]
    assert set(components["IssuedToken"]["required"]) == {"token", "expiry"}
    assert set(components["Token"]["properties"]) == {"token_key", "created", "expiry"}


def test_anonymous_readers_get_no_username(schema):
    author = schema["components"]["schemas"]["Author"]
    assert set(author["properties"]) == {"id", "username"}
    assert author["required"] == ["id"]


def test_list_parameters_are_documented(schema):
    names = {parameter["name"] for parameter in schema["paths"]["/api/v1/messages/"]["get"]["parameters"]}
    assert names == {"author", "status", "created_after", "created_before", "ordering", "cursor", "page_size"}


def test_swagger_ui_is_served_from_this_service(anonymous):
    response = anonymous.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert "/api/schema/" in page
    asset = anonymous.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_lint_validates_the_schema_and_fails_on_warnings():
    """`invoke lint` runs this command line; it must pass on the schema as it is."""
    import subprocess

    from ops import commands
    from ops.envvars import resolve

    argv = commands.schema_check()
    assert argv[2:6] == ["spectacular", "--validate", "--fail-on-warn", "--file"]
    result = subprocess.run(argv, env=resolve("local").variables, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr
