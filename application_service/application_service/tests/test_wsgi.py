"""The WSGI application gunicorn runs, called as gunicorn calls it."""

from __future__ import annotations

import io

import pytest


def call(environ: dict) -> tuple[str, dict[str, str], bytes]:
    from application_service.wsgi import application

    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], body


def environ(query: str, content_type: str, path: str = "/healthz") -> dict:
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "CONTENT_TYPE": content_type,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
        "HTTP_X_REQUEST_ID": "many-fields", "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(), "REMOTE_ADDR": "127.0.0.1",
    }


def test_too_many_query_fields_with_a_charset_is_answered_by_the_service(settings):
    """Django builds the request's GET while setting the charset's encoding: the refusal escaped
    every middleware, and gunicorn answered its own 500 with no request id. Now the request is
    built and answered (the liveness probe reads no query), and reading its GET is a 400."""
    query = "&".join(["k="] * (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    status, headers, _ = call(environ(query, "application/json; charset=utf-8"))
    assert status.startswith("200")
    assert headers["X-Request-ID"] == "many-fields"
    from django.core.exceptions import TooManyFieldsSent

    from application_service.wsgi import Request

    with pytest.raises(TooManyFieldsSent):  # a SuspiciousOperation: Django's handler answers 400
        Request(environ(query, "application/json; charset=utf-8")).GET  # noqa: B018


def test_a_charset_still_sets_the_encoding_the_query_is_read_with():
    from application_service.wsgi import Request

    request = Request(environ("k=%E9", "text/plain; charset=latin-1"))
    assert request.encoding == "latin-1"
    assert request.GET["k"] == "é"
