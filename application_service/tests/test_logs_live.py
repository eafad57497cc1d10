"""Logs and errors for real: `invoke serve` (gunicorn) and `invoke celery` (a worker with beat) on
MariaDB and Redis, writing JSON lines; a stand-in Sentry on 127.0.0.1 receiving the SDK's envelopes.

One request id follows a message from the API into the worker's lines of its job; beat's jobs get
ids of their own; each rejection is one line; a 500 and a failing job reach Sentry with the
release, the environment and the request's id, and without the secrets the request carried.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import uuid
from urllib.parse import urlsplit
from urllib.request import Request

import pytest
import test_celery
from test_celery import PASSWORD, WORKER_READY

from ops.testing import (
    StandInHandler,
    eventually,
    http_get,
    http_json,
    invoke,
    mysql_admin_connection,
    running,
    send,
    serving,
    stand_in_server,
)

pytestmark = pytest.mark.integration

# The API's user of the Celery tests (a fixture), the password it signs in with.
api_user = test_celery.api_user


def json_lines(text: str) -> list[dict]:
    """The JSON lines of a process's output (invoke's "exec:" line is not a log line)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def with_id(lines: list[dict], request_id: str) -> list[dict]:
    return [line for line in lines if line.get("request_id") == request_id]


def stack_env(env: dict[str, str], **more: str) -> dict[str, str]:
    """Queues and cache keys of this test's own on the shared Redis; JSON lines."""
    prefix = f"logs-{uuid.uuid4().hex[:8]}:"
    return {**env, "CELERY_KEY_PREFIX": prefix, "CACHE_KEY_PREFIX": f"{prefix}cache",
            "CELERY_FILESYSTEM_DIR": "", "LOG_FORMAT": "json",
            **more}


def test_one_request_id_follows_a_message_from_the_api_into_its_job(service_database, api_user, tmp_path):
    env = stack_env(service_database, SESSIONS_CLEAR_SECONDS="2")
    worker_log = tmp_path / "worker.log"
    with serving(env, tmp_path) as server, \
            running(["celery", "--concurrency", "1", "--beat"], env, worker_log, ready=WORKER_READY):
        token = http_json("POST", server.url("/api/v1/auth/token/"),
                          {"username": api_user, "password": PASSWORD}).json()["token"]
        request_id = f"test-{uuid.uuid4().hex}"
        created = send(Request(server.url("/api/v1/messages/"), data=b'{"text": "follow me"}', method="POST",
                               headers={"Content-Type": "application/json", "Authorization": f"Token {token}",
                                        "X-Request-ID": request_id}), timeout=30)
        assert created.status == 201, created.body
        assert created.headers["X-Request-ID"] == request_id
        message_id = created.json()["id"]
        eventually(lambda: http_json("GET", server.url(f"/api/v1/messages/{message_id}/")).json()["status"]
                   == "processed", timeout=60, message="the message is processed")

        def job_lines():
            lines = with_id(json_lines(worker_log.read_text()), request_id)
            return lines if any("succeeded" in line["message"] for line in lines) else None

        # The worker's lines of the job carry the id the request came with.
        job = eventually(job_lines, timeout=30, message="the job's lines carry the request's id")
        started = [line for line in job if line["message"] == "task_started"]
        assert [line["task"] for line in started] == ["application.jobs.message_process"]
        assert all(isinstance(line["task_id"], str) for line in job)

        # Beat's jobs: an id of their own each, not the request's.
        def beat_jobs():
            lines = [line for line in json_lines(worker_log.read_text()) if line["message"] == "task_started"
                     and line["task"] == "accounts.jobs.sessions_clear_expired"]
            return lines if len(lines) >= 2 else None

        beats = eventually(beat_jobs, timeout=60, message="beat started the sessions job twice")
        ids = [line["request_id"] for line in beats]
        assert len(set(ids)) == len(ids) and request_id not in ids and all(ids)

        # Rejections and probes on the real server.
        bad_host = http_get(server.url("/"), headers={"Host": "scanner.example", "X-Request-ID": "host-1"})
        not_found = http_get(server.url("/no-such-page/"), headers={"X-Request-ID": "missing-1"})
        probe = http_get(server.url("/healthz"), headers={"X-Request-ID": "probe-1"})
        forged = http_get(server.url("/"), headers={"X-Request-ID": "forged id\tinjected"})
        assert (bad_host.status, not_found.status, probe.status, forged.status) == (400, 404, 200, 200)
        assert probe.headers["X-Request-ID"] == "probe-1"
        assert forged.headers["X-Request-ID"] != "forged id\tinjected"

        def web_lines():
            lines = json_lines(server.output())
            return lines if with_id(lines, forged.headers["X-Request-ID"]) else None

        web = eventually(web_lines, timeout=15, message="the last request's line is written")

    [finished] = [line for line in with_id(web, request_id) if line["message"] == "request_finished"]
    assert {key: finished[key] for key in ("method", "path", "status")} == {
        "method": "POST", "path": "/api/v1/messages/", "status": 201}
    assert isinstance(finished["user_id"], int) and finished["duration_ms"] > 0
    assert {line["message"] for line in with_id(web, request_id)} <= {"task_enqueued", "request_finished"}
    [refused] = with_id(web, "host-1")
    assert (refused["status"], refused["level"]) == (400, "warning")
    assert "scanner.example" in refused["reason"]
    [missing] = with_id(web, "missing-1")
    assert missing["status"] == 404
    assert with_id(web, "probe-1") == []
    # No second line for a rejection, and no access log line beside request_finished.
    output = server.output()
    assert "DisallowedHost" not in output and "Not Found" not in output and '"GET /' not in output
    assert token not in output and token not in worker_log.read_text()
    # gunicorn's own lines (the arbiter's and its workers') are JSON too.
    assert any(line["logger"] == "gunicorn.error" and line["message"].startswith("Booting worker")
               for line in web)
    assert all(line.startswith(("{", "exec:")) for line in output.splitlines() if line), output[-3000:]
    # The worker's (and its beat's) too: no start-up banner. Celery writes one plain line itself,
    # on standard error as it stops ("worker: Warm shutdown (MainProcess)"), outside logging.
    worker_output = worker_log.read_text()
    plain = [line for line in worker_output.splitlines()
             if line and not line.startswith(("{", "exec:")) and not line.endswith("shutdown (MainProcess)")]
    assert plain == []


# Sentry.

class SentryStandIn(StandInHandler):
    """Accepts the SDK's envelopes (gzip or brotli) and keeps them, decompressed, on the server."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.server.envelopes.append(body)
        self.reply(b"{}", headers={"Content-Type": "application/json"})


def events_in(envelopes: list[bytes]) -> list[dict]:
    """The error events of the envelopes (item header line, then its JSON payload line)."""
    events = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if header and json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


@pytest.fixture
def unmigrated_database(mysql_url, redis_url):
    """A database that exists but has no tables: pages and jobs that query it fail for real (500s,
    failed jobs), with no test-only code in the service."""
    name = f"little_service_bare_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": mysql_url + name, "REDIS_URL": redis_url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    invoke("db.create", env=env, check=True)
    yield env
    admin = mysql_admin_connection(mysql_url)
    try:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


def test_errors_reach_sentry_from_web_and_worker_scrubbed_and_tagged(unmigrated_database, tmp_path):
    environment = os.environ.get("APP_ENV") or "local"
    with stand_in_server(SentryStandIn) as sentry:
        sentry.envelopes = []
        dsn = f"http://public{uuid.uuid4().hex[:8]}@127.0.0.1:{sentry.server_address[1]}/42"
        env = stack_env(unmigrated_database, SENTRY_DSN=dsn, APP_VERSION="v-sentry-test", APP_ENV=environment,
                        SESSIONS_CLEAR_SECONDS="1")
        password, token, session, csrf = (secrets.token_hex(16) for _ in range(4))  # csrf: 32 characters
        request_id = f"boom-{uuid.uuid4().hex[:8]}"
        worker_log = tmp_path / "worker.log"
        with serving(env, tmp_path, workers=1) as server, \
                running(["celery", "--concurrency", "1", "--beat"], env, worker_log, ready=WORKER_READY):
            # A sign-in on a database without tables: a real 500, with a password in the form, an API
            # token, the session and CSRF cookies and a token in the query string.
            answer = send(Request(
                server.url(f"/accounts/login/?token={token}"), method="POST",
                data=f"username=ann&password={password}&csrfmiddlewaretoken={csrf}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded", "X-Request-ID": request_id,
                         "Authorization": f"Token {token}",
                         "Cookie": f"csrftoken={csrf}; sessionid={session}"},
            ), timeout=30)
            assert answer.status == 500, answer.body
            assert answer.headers["X-Request-ID"] == request_id

            def reported(source: str):
                found = [event for event in events_in(sentry.envelopes)
                         if event.get("tags", {}).get("request_id") and source in json.dumps(event)]
                return found or None

            [web_event] = eventually(lambda: reported("/accounts/login/"), timeout=30,
                                     message="the 500's event")
            job_events = eventually(lambda: reported("accounts.jobs.sessions_clear_expired"), timeout=60,
                                    message="the failed job's event")
            web_output, worker_output = server.output(), worker_log.read_text()

    for event in [web_event, *job_events]:
        assert (event["release"], event["environment"]) == ("v-sentry-test", environment)
        assert event["exception"]["values"][-1]["type"] == "ProgrammingError"
    assert web_event["tags"]["request_id"] == request_id
    assert web_event["request"]["data"]["password"] == "[Filtered]"
    # The job's event carries the id its lines carry.
    job_ids = {line["request_id"] for line in json_lines(worker_output) if line.get("task_id")}
    assert {event["tags"]["request_id"] for event in job_events} <= job_ids
    # None of what the request carried reached Sentry or a log line.
    received = b"\n".join(sentry.envelopes).decode()
    for secret in (password, token, session, csrf):
        assert secret not in received
        assert secret not in web_output
    # The 500 is one log line, with its traceback.
    [line] = with_id(json_lines(web_output), request_id)
    assert (line["status"], line["level"]) == (500, "error") and "ProgrammingError" in line["exception"]
    assert urlsplit(dsn).username not in web_output + worker_output
