"""One error shape for every error, and no 500 for any body."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ops.testing import client_for

pytestmark = pytest.mark.django_db

MESSAGES = "/api/v1/messages/"


@pytest.fixture
def writer(make_user) -> APIClient:
    return client_for(make_user("writer"))


def post_raw(client: APIClient, body: bytes, content_type: str = "application/json"):
    return client.generic("POST", MESSAGES, body, content_type=content_type)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"code", "message", "fields"}
    return body


@pytest.mark.parametrize("body", [
    b'{"text": ',
    b"{'text': 'single quotes'}",
    b'{"text": NaN}',
    b"\xff\xfe not utf-8",
    b"[" * 30_000,  # deep enough to exhaust the parser's recursion, small enough to read
])
def test_malformed_json_is_a_400_parse_error(writer, body):
    assert_error(post_raw(writer, body), 400, "parse_error")


def test_an_unknown_charset_is_read_as_utf8(writer):
    response = post_raw(writer, '{"text": "é"}'.encode(), "application/json; charset=no-such-charset")
    assert response.status_code == 201
    assert response.json()["text"] == "é"


def test_a_body_in_another_charset_is_decoded(writer):
    response = post_raw(writer, '{"text": "é"}'.encode("latin-1"), "application/json; charset=latin-1")
    assert response.status_code == 201
    assert response.json()["text"] == "é"


def test_an_oversized_body_is_a_413(settings, writer):
    body = b'{"text": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'
    body = assert_error(post_raw(writer, body), 413, "request_too_large")
    assert body["message"] == "The request body is larger than this service accepts."


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain",
                                          "multipart/form-data; boundary=x"])
def test_bodies_other_than_json_are_a_415(writer, content_type):
    assert_error(post_raw(writer, b"text=hello", content_type), 415, "unsupported_media_type")


def test_unsupported_methods_are_a_405_with_allow(writer):
    for method in ("PUT", "OPTIONS", "TRACE"):
        response = writer.generic(method, MESSAGES)
        assert_error(response, 405, "method_not_allowed")
        assert response["Allow"] == "GET, POST, HEAD"


def test_only_json_is_rendered(anonymous):
    response = anonymous.get(MESSAGES, HTTP_ACCEPT="text/html")
    assert_error(response, 406, "not_acceptable")
    assert anonymous.get(MESSAGES, {"format": "api"}).status_code == 200  # no format override


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_are_404_in_the_shape_and_pages_keep_html(settings, anonymous, debug):
    settings.DEBUG = debug
    assert_error(anonymous.get("/api/v2/messages/"), 404, "not_found")
    assert_error(anonymous.get("/api/v1/messages/null,null/"), 404, "not_found")
    assert_error(APIClient(enforce_csrf_checks=True).post("/api/v1/nothing/"), 404, "not_found")
    response = anonymous.get("/no-such-page/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]


def test_an_unexpected_api_failure_is_a_500_in_the_shape(anonymous, monkeypatch):
    from application import selectors

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "message_list", broken)
    client = APIClient(raise_request_exception=False)
    assert_error(client.get(MESSAGES), 500, "server_error")


def test_model_validation_in_services_is_a_400(writer):
    # message_create runs full_clean: a too-long text that slipped past a serializer still fails
    # as a validation error in the one shape (Django's ValidationError is translated).
    from django.core.exceptions import ValidationError

    from application_service.api.exceptions import exception_handler

    response = exception_handler(ValidationError({"text": ["too long"]}), {})
    assert response.status_code == 400
    assert response.data == {"code": "validation_error", "message": "The request is not valid.",
                             "fields": {"text": [{"code": "invalid", "message": "too long"}]}}


def test_nested_errors_are_flattened_with_dots():
    from rest_framework.exceptions import ErrorDetail

    from application_service.api.exceptions import field_errors

    detail = {"author": {"name": [ErrorDetail("bad", code="blank")]},
              "items": [{}, {"n": [ErrorDetail("no", code="invalid")]}]}
    assert field_errors(detail) == {"author.name": [{"code": "blank", "message": "bad"}],
                                    "items.1.n": [{"code": "invalid", "message": "no"}]}
