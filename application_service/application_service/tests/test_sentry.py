"""Sentry's set-up without a server: nothing at all without a DSN, a clear refusal of a malformed
one, and what before_send makes of an event. Events from a real gunicorn and a real worker reaching
a stand-in Sentry are in application_service/tests/test_logs_live.py."""

from __future__ import annotations

import pytest
import sentry_sdk
import structlog

from application_service import sentry
from application_service.environments import ConfigurationError
from application_service.logs import FILTERED


def test_without_a_dsn_nothing_starts(settings):
    assert settings.SENTRY_DSN == ""
    assert sentry.init(dsn="", release="r", environment="ci") is False
    assert not sentry_sdk.get_client().is_active()


@pytest.mark.parametrize("dsn", ["not-a-dsn-k3y", "ftp://k3y@sentry.example/1", "https://k3y@/1"])
def test_a_malformed_dsn_stops_the_start_saying_so_without_repeating_it(dsn):
    with pytest.raises(ConfigurationError, match="SENTRY_DSN cannot be read") as raised:
        sentry.init(dsn=dsn, release="r", environment="ci")
    assert "k3y" not in str(raised.value)
    assert not sentry_sdk.get_client().is_active()


def event_with_secrets() -> dict:
    """An event shaped as the Django integration sends one (request, frames, breadcrumbs)."""
    signature = "    def authenticate(self, request, username=None, password=None):"
    return {
        "level": "error",
        "release": "0123456789ab",
        "request": {
            "url": "http://service.example/accounts/login/",
            "method": "POST",
            "query_string": "next=/&token=q-secret",
            "headers": {"Authorization": "Token h-secret", "Cookie": "sessionid=c-secret",
                        "Host": "service.example"},
            "cookies": {"sessionid": "c-secret"},
            "data": {"username": "ann", "password": "p-secret", "csrfmiddlewaretoken": "t-secret"},
        },
        "exception": {"values": [{"type": "OperationalError",
                                  "value": "cannot connect to mysql://app:u-secret@db:3306/service",
                                  "stacktrace": {"frames": [{
                                      "function": "authenticate",
                                      "context_line": signature,
                                      "vars": {"password": "'p-secret'", "username": "'ann'",
                                               "credentials": {"password": "p-secret"},
                                               "data": "<QueryDict: {'password': ['p-secret']}>"},
                                  }]}}]},
        "breadcrumbs": {"values": [{"message": "GET /reset?token=b-secret", "category": "httplib"}]},
    }


def test_before_send_scrubs_every_secret_and_tags_the_request_id():
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        event = sentry.before_send(event_with_secrets(), {})
    finally:
        structlog.contextvars.clear_contextvars()
    assert "secret" not in str(event).replace("[Filtered]", "")
    assert event["tags"] == {"request_id": "req-42"}
    request = event["request"]
    assert request["data"] == {"username": "ann", "password": FILTERED, "csrfmiddlewaretoken": FILTERED}
    assert request["headers"] == {"Authorization": FILTERED, "Cookie": FILTERED, "Host": "service.example"}
    assert request["query_string"] == "next=/&token=[Filtered]"
    [error] = event["exception"]["values"]
    assert error["value"] == "cannot connect to mysql://app:***@db:3306/service"
    [frame] = error["stacktrace"]["frames"]
    # Source code, not data: left as it is.
    assert frame["context_line"] == "    def authenticate(self, request, username=None, password=None):"
    assert frame["vars"]["username"] == "'ann'"


def test_before_send_adds_no_tag_outside_a_request_or_job():
    structlog.contextvars.clear_contextvars()
    assert "tags" not in sentry.before_send({"message": "hello"}, {})
