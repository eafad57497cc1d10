"""Log lines as the root handler writes them (settings.LOGGING): one per request with its id,
rejections included, Django's own records about a request folded into it, secrets scrubbed.

The live side (gunicorn, a Celery worker, the id crossing from one to the other) is in
application_service/tests/test_logs_live.py.
"""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog
from django.test import Client
from django.urls import path

from application_service import health, logs

pytestmark = pytest.mark.django_db

HEX_ID = re.compile(r"[0-9a-f]{32}")
SECRET_URL = "mysql://app_user:s3cret-pass@db.internal:3306/service"


def boom(request):
    raise RuntimeError(f"cannot reach {SECRET_URL}")


urlpatterns = [path("boom/", boom)]


@pytest.fixture
def lines():
    """The root handler's lines from here on, in JSON whatever LOG_FORMAT says: a function that
    returns them parsed."""
    [handler] = [handler for handler in logging.getLogger().handlers
                 if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)]
    stream, formatter = io.StringIO(), handler.formatter
    previous = handler.setStream(stream)
    handler.setFormatter(logs.formatter("json"))
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(previous)
        handler.setFormatter(formatter)


def with_id(found: list[dict], request_id: str) -> list[dict]:
    return [line for line in found if line.get("request_id") == request_id]


# The request's id.

def test_a_valid_x_request_id_is_used_and_returned(client, lines):
    response = client.get("/", HTTP_X_REQUEST_ID="lb-7f3a.42:x=1")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-7f3a.42:x=1"
    [line] = with_id(lines(), "lb-7f3a.42:x=1")
    assert line["message"] == "request_finished"


@pytest.mark.parametrize("sent", ["two words", "<script>", "a" * 201, "é", ""])
def test_an_invalid_x_request_id_is_replaced_by_a_new_one(client, lines, sent):
    response = client.get("/", HTTP_X_REQUEST_ID=sent)
    assert HEX_ID.fullmatch(response["X-Request-ID"])
    [line] = lines()
    assert line["request_id"] == response["X-Request-ID"] != sent


def test_the_load_balancers_trace_id_stands_in_when_there_is_no_valid_request_id(client):
    trace = "Root=1-67891233-abcdef012345678912345678"
    assert client.get("/", HTTP_X_AMZN_TRACE_ID=trace)["X-Request-ID"] == trace
    assert client.get("/", HTTP_X_AMZN_TRACE_ID=trace, HTTP_X_REQUEST_ID="no good")["X-Request-ID"] == trace
    assert client.get("/", HTTP_X_AMZN_TRACE_ID=trace, HTTP_X_REQUEST_ID="req-1")["X-Request-ID"] == "req-1"


def test_each_request_without_one_gets_a_new_id(client):
    first, second = (client.get("/")["X-Request-ID"] for _ in range(2))
    assert HEX_ID.fullmatch(first) and HEX_ID.fullmatch(second) and first != second


# One line per request.

def test_a_request_is_one_line_with_its_fields(client, lines):
    response = client.get("/?page=2", HTTP_X_REQUEST_ID="one-line")
    assert response.status_code == 200
    [line] = lines()
    assert list(line)[:5] == ["time", "level", "logger", "message", "request_id"]
    assert line.pop("duration_ms") >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", line.pop("time"))
    assert line == {"level": "info", "logger": "application_service.requests",
                    "message": "request_finished", "request_id": "one-line", "user_id": None,
                    "method": "GET", "path": "/", "status": 200}


def test_a_signed_in_users_id_is_on_the_line(client, lines, author):
    client.force_login(author)
    client.get("/", HTTP_X_REQUEST_ID="signed-in")
    [line] = with_id(lines(), "signed-in")
    assert line["user_id"] == author.pk


def test_an_api_token_users_id_is_on_the_line(lines, author):
    from knox.models import AuthToken

    _, key = AuthToken.objects.create(author)
    response = Client().get("/api/v1/messages/", HTTP_AUTHORIZATION=f"Token {key}",
                            HTTP_X_REQUEST_ID="api-user")
    assert response.status_code == 200
    [line] = with_id(lines(), "api-user")
    assert (line["user_id"], line["path"], line["status"]) == (author.pk, "/api/v1/messages/", 200)
    assert key not in json.dumps(lines())


@pytest.mark.parametrize(("method", "url", "status"), [
    ("get", "/no-such-page/", 404),
    ("get", "/api/v1/no-such-endpoint/", 404),
    ("post", "/api/v1/messages/", 401),  # anonymous
    ("put", "/", 405),
])
def test_a_rejected_request_is_one_warning_line(client, lines, method, url, status):
    response = getattr(client, method)(url, HTTP_X_REQUEST_ID="rejected")
    assert response.status_code == status
    assert response["X-Request-ID"] == "rejected"
    [line] = lines()  # no "Not Found: ..." or "Unauthorized: ..." from django.request
    assert (line["message"], line["level"], line["status"], line["request_id"]) == (
        "request_finished", "warning", status, "rejected")


def test_a_disallowed_host_is_one_line_with_the_reason(client, lines):
    response = client.get("/", HTTP_HOST="scanner.example", HTTP_X_REQUEST_ID="bad-host")
    assert response.status_code == 400
    [line] = lines()  # no second line from django.security.DisallowedHost
    assert (line["request_id"], line["status"], line["user_id"]) == ("bad-host", 400, None)
    assert "Invalid HTTP_HOST header: 'scanner.example'" in line["reason"]


def test_a_csrf_refusal_is_one_line_with_the_reason(lines):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"},
                                                     HTTP_X_REQUEST_ID="no-csrf")
    assert response.status_code == 403
    [line] = lines()
    assert line["reason"].startswith("Forbidden (CSRF cookie not set.)")


@pytest.mark.urls(__name__)
def test_a_500_is_one_error_line_with_its_traceback_scrubbed(lines):
    response = Client(raise_request_exception=False).get("/boom/", HTTP_X_REQUEST_ID="boom")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "boom"
    [line] = lines()  # no "Internal Server Error: /boom/" from django.request
    assert (line["level"], line["status"], line["request_id"]) == ("error", 500, "boom")
    assert "RuntimeError: cannot reach mysql://app_user:***@db.internal:3306/service" in line["exception"]
    assert "s3cret-pass" not in json.dumps(line)


def test_probes_answered_200_are_not_written_but_carry_an_id(client, lines):
    for probe in ("/healthz", "/readyz", "/healthz/"):
        response = client.get(probe, HTTP_X_REQUEST_ID="probe")
        assert response.status_code == 200
        assert response["X-Request-ID"] == "probe"
    assert [line for line in lines() if line["message"] == "request_finished"] == []


def test_a_failing_readiness_probe_is_written(client, lines, monkeypatch, settings):
    def failing():
        raise ConnectionError("refused")

    settings.READINESS_CACHE_SECONDS = 0
    monkeypatch.setitem(health.CHECKS, "cache", failing)
    health.readiness_cache.clear()
    response = client.get("/readyz", HTTP_X_REQUEST_ID="not-ready")
    health.readiness_cache.clear()
    assert response.status_code == 503
    found = with_id(lines(), "not-ready")
    # The check's own warning says why, under the same id; the request's line says what was answered.
    assert [line["message"] for line in found] == [
        "Readiness: the cache check failed: ConnectionError: refused", "request_finished"]
    assert (found[1]["status"], found[1]["level"]) == (503, "error")


def test_a_requests_id_is_unbound_when_it_ends(client, lines):
    client.get("/", HTTP_X_REQUEST_ID="first")
    structlog.get_logger("after").info("between_requests")
    last = lines()[-1]
    assert last["message"] == "between_requests" and "request_id" not in last


# Formats.

def test_the_standard_librarys_records_come_out_in_the_same_shape(lines):
    logging.getLogger("some.library").warning("disk %s%% full", 91)
    [line] = lines()
    assert {key: line[key] for key in ("level", "logger", "message")} == {
        "level": "warning", "logger": "some.library", "message": "disk 91% full"}


def test_text_is_one_readable_line_with_the_fields():
    record = logging.LogRecord("application_service.requests", logging.INFO, __file__, 1,
                               "request_finished", None, None)
    text = logs.formatter("text").format(record)
    assert "[info" in text and "request_finished" in text and "application_service.requests" in text
    assert "\n" not in text and "{" not in text


# Scrubbing.

def test_scrub_replaces_secret_named_values_whatever_they_hold():
    event = {
        "password": "hunter2", "new_password1": "x", "api_key": 1, "DB_CREDENTIALS": {"username": "u"},
        "headers": {"Authorization": "Token abc", "Cookie": "sessionid=s", "X-CSRFToken": "c"},
        "cookies": {"sessionid": "s", "csrftoken": "c"}, "SENTRY_DSN": "https://k@host/1",
        "secret_key": "k", "refresh_token": "r",
    }
    assert logs.scrub(event) == {
        "password": "[Filtered]", "new_password1": "[Filtered]", "api_key": "[Filtered]",
        "DB_CREDENTIALS": "[Filtered]",
        "headers": {"Authorization": "[Filtered]", "Cookie": "[Filtered]", "X-CSRFToken": "[Filtered]"},
        "cookies": "[Filtered]", "SENTRY_DSN": "[Filtered]", "secret_key": "[Filtered]",
        "refresh_token": "[Filtered]",
    }


def test_scrub_keeps_what_is_not_secret():
    event = {"routing_key": "celery", "url": "https://example.com/a?page=2", "author": {"id": 3},
             "passed": True, "status": 200, "items": [1, "two", ("three",)], "path": "/api/v1/messages/"}
    assert logs.scrub(event) == event


@pytest.mark.parametrize(("text", "scrubbed"), [
    ("connecting to redis://:r3dis-pw@cache:6379/0 failed",
     "connecting to redis://:***@cache:6379/0 failed"),
    ("GET /reset?token=abc123&next=/", "GET /reset?token=[Filtered]&next=/"),
    ("Authorization: Token 0123456789abcdef", "Authorization: [Filtered]"),
    ("sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "sent Bearer [Filtered]"),
    ("Cookie: csrftoken=c1; sessionid=s2", "Cookie: [Filtered]; sessionid=[Filtered]"),
    ("<QueryDict: {'username': ['ann'], 'password': ['hunter 2']}>",
     "<QueryDict: {'username': ['ann'], 'password': [[Filtered]]}>"),
    ('{"password": "hunter2", "text": "hi"}', '{"password": [Filtered], "text": "hi"}'),
    ("SENTRY_DSN=https://key@sentry.example/1", "SENTRY_DSN=[Filtered]"),
    ("Invalid token.", "Invalid token."),
    ("Forbidden (CSRF token missing.): /login/", "Forbidden (CSRF token missing.): /login/"),
])
def test_scrub_finds_secrets_inside_texts(text, scrubbed):
    assert logs.scrub(text) == scrubbed
    assert logs.scrub(scrubbed) == scrubbed  # scrubbing twice changes nothing more


def test_a_secret_field_never_reaches_a_line(lines):
    structlog.get_logger("app").info("signed_in", password="hunter2",
                                     broker="redis://:r3dis-pw@cache:6379/0", note="token=abc123")
    [line] = lines()
    assert (line["password"], line["broker"], line["note"]) == (
        "[Filtered]", "redis://:***@cache:6379/0", "token=[Filtered]")


# Jobs.

def test_a_job_published_during_a_request_carries_its_ids_only():
    structlog.contextvars.bind_contextvars(request_id="req-9", user_id=7, reason="x", exc_info=None)
    headers: dict = {}
    try:
        logs.job_receiver.receiver_before_task_publish(headers=headers, properties={})
    finally:
        structlog.contextvars.clear_contextvars()
    assert headers["__django_structlog__"] == {"request_id": "req-9", "user_id": 7}


def test_a_job_without_a_request_gets_an_id_of_its_own_and_keeps_one_it_was_given():
    structlog.contextvars.clear_contextvars()
    try:
        logs.bind_job_request_id()
        own = structlog.contextvars.get_contextvars()["request_id"]
        assert HEX_ID.fullmatch(own)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id="from-the-request")
        logs.bind_job_request_id()
        assert structlog.contextvars.get_contextvars()["request_id"] == "from-the-request"
    finally:
        structlog.contextvars.clear_contextvars()


def test_a_failed_sign_in_and_a_lockout_are_one_line_each_with_the_reason(lines, author, settings):
    """django-axes' own lines about failures and lockouts are left out: the request's line says it."""
    from rest_framework.test import APIClient

    settings.LOGIN_FAILURES_PER_USERNAME = 2
    client = APIClient()
    statuses = [client.post("/api/v1/auth/token/", {"username": author.username, "password": "wrong"},
                            HTTP_X_REQUEST_ID=f"sign-in-{attempt}").status_code for attempt in range(3)]
    assert statuses == [400, 429, 429]
    found = lines()
    for attempt, reason in enumerate(["sign-in failed", "sign-in locked out", "sign-in locked out"]):
        [line] = with_id(found, f"sign-in-{attempt}")
        assert line["message"] == "request_finished"
        assert line["reason"].startswith(reason)
    assert not [line for line in found if line["logger"].startswith("axes")]
