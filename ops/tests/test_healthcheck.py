"""The health checks: the web probe against a real local HTTP server, beat's heartbeat file, a
worker asked through a real broker, and the checks of each container role."""

from __future__ import annotations

import http.server
import os
import re
import threading
import time
from pathlib import Path

import pytest

from ops import healthcheck
from ops.envvars import resolve
from ops.errors import UserError
from ops.testing import free_port, redis_server


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_200_is_healthy(server):
    assert healthcheck.healthz(f"{server}/healthz") == f"{server}/healthz: 200"


def test_another_status_is_unhealthy(server):
    with pytest.raises(UserError, match="answered 503"):
        healthcheck.healthz(f"{server}/readyz")


def test_nothing_listening_is_unhealthy():
    with pytest.raises(UserError, match="does not answer"):
        healthcheck.healthz(f"http://127.0.0.1:{free_port()}/healthz", timeout=2)


# Beat's heartbeat

def test_a_heartbeat_touched_lately_is_healthy(tmp_path):
    heartbeat = tmp_path / "beat.heartbeat"
    heartbeat.touch()
    assert healthcheck.beat_ticks(heartbeat, 60).startswith("beat ticked 0s ago")


def test_a_stale_heartbeat_is_unhealthy(tmp_path):
    heartbeat = tmp_path / "beat.heartbeat"
    heartbeat.touch()
    os.utime(heartbeat, (time.time() - 100, time.time() - 100))
    with pytest.raises(UserError, match=r"beat last ticked 10\ds ago, more than 60s"):
        healthcheck.beat_ticks(heartbeat, 60)


def test_no_heartbeat_is_unhealthy(tmp_path):
    with pytest.raises(UserError, match="beat has not ticked"):
        healthcheck.beat_ticks(tmp_path / "beat.heartbeat", 60)


def test_the_heartbeat_file_and_its_age_come_from_the_environment(tmp_path):
    variables = {"BEAT_HEARTBEAT_FILE": str(tmp_path / "hb"), "BEAT_HEARTBEAT_MAX_AGE": "7.5"}
    assert healthcheck.heartbeat_file(variables) == tmp_path / "hb"
    assert healthcheck.heartbeat_max_age(variables) == 7.5
    assert healthcheck.heartbeat_max_age({}) == healthcheck.DEFAULT_HEARTBEAT_MAX_AGE
    for wrong in ("soon", "0", "-5"):
        with pytest.raises(UserError, match=f"BEAT_HEARTBEAT_MAX_AGE='{wrong}' is not a number of seconds"):
            healthcheck.heartbeat_max_age({"BEAT_HEARTBEAT_MAX_AGE": wrong})


def test_beat_writes_its_heartbeat_where_the_check_reads_it():
    from django.conf import settings

    assert Path(settings.CELERY_BEAT_HEARTBEAT_FILE) == healthcheck.heartbeat_file(os.environ)


def test_nothing_to_check_is_a_mistake():
    with pytest.raises(UserError, match="Nothing to check"):
        healthcheck.celery_health(resolve("local", {}), worker=False, beat=False)


# The worker answering through its broker (a real `celery inspect ping`)

@pytest.fixture
def broker_env(tmp_path):
    """Variables pointing the jobs at a Redis of the test's own, on which no worker runs."""
    port = free_port()
    variables = {key: value for key, value in os.environ.items()
                 if key not in {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "REDIS_PASSWORD"}}
    return port, resolve(None, {**variables, "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                                "BEAT_HEARTBEAT_FILE": str(tmp_path / "beat.heartbeat")})


@pytest.mark.integration
def test_a_worker_that_does_not_answer_is_unhealthy_and_so_is_a_dead_beat(broker_env, tmp_path):
    port, environment = broker_env
    with redis_server(port, tmp_path), pytest.raises(UserError) as failed:
        healthcheck.celery_health(environment, beat=True)
    message = str(failed.value)
    assert "beat has not ticked" in message  # both problems, in one message
    assert re.search(r"the worker celery@\S+ does not answer through its broker: No nodes replied", message)


@pytest.mark.integration
def test_a_worker_whose_broker_is_away_is_unhealthy(broker_env):
    _, environment = broker_env
    with pytest.raises(UserError, match=r"does not answer through its broker: Could not connect"):
        healthcheck.worker_answers(environment)


# What a container's role must pass (the entrypoint records the role)

@pytest.mark.parametrize(("role", "checks"), [
    ("serve", healthcheck.RoleChecks(web=True)),
    ("", healthcheck.RoleChecks(web=True)),
    ("dev.web --address 0.0.0.0:8000", healthcheck.RoleChecks(web=True)),
    ("celery", healthcheck.RoleChecks(worker=True)),
    ("celery --concurrency 2 --beat", healthcheck.RoleChecks(worker=True, beat=True)),
    ("celery.worker -b", healthcheck.RoleChecks(worker=True, beat=True)),
    ("celery.beat", healthcheck.RoleChecks(beat=True)),
    ("migrate --lint", healthcheck.RoleChecks()),
])
def test_each_role_has_its_checks(role, checks):
    assert healthcheck.role_checks(role) == checks


def test_the_role_is_the_one_the_entrypoint_recorded_else_app_role(tmp_path):
    recorded = tmp_path / "app-role"
    variables = {"APP_ROLE_FILE": str(recorded), "APP_ROLE": "celery --beat"}
    assert healthcheck.container_role(variables) == "celery --beat"
    recorded.write_text("celery.beat\n")
    assert healthcheck.container_role(variables) == "celery.beat"
    assert healthcheck.container_role({"APP_ROLE_FILE": str(tmp_path / "none")}) == "serve"


def test_the_image_healthcheck_checks_the_role_its_entrypoint_recorded(tmp_path):
    """`invoke healthcheck`, the image's HEALTHCHECK: beat's container fails on a dead beat, a
    one-off task's passes with nothing to check, each saying so in one line."""
    from ops.testing import invoke

    recorded = tmp_path / "app-role"
    heartbeat = tmp_path / "beat.heartbeat"
    env = {**os.environ, "APP_ROLE_FILE": str(recorded), "BEAT_HEARTBEAT_FILE": str(heartbeat)}
    recorded.write_text("celery.beat\n")
    dead = invoke("healthcheck", env=env)
    assert dead.returncode != 0
    assert "beat has not ticked" in dead.stderr and "Traceback" not in dead.stderr
    heartbeat.touch()
    alive = invoke("healthcheck", env=env)
    assert alive.returncode == 0, alive.stderr
    assert "beat" in alive.stdout
    one_off = invoke("healthcheck", "--role", "migrate", env=env)
    assert one_off.returncode == 0 and "nothing to check for the role 'migrate'" in one_off.stdout
