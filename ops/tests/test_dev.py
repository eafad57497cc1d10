"""`invoke dev` on the embedded defaults: SQLite, the file-system broker, a real worker and beat."""

import os
import signal
import uuid

import pytest

from ops.testing import (
    eventually,
    free_port,
    http_get,
    http_json,
    invoke,
    start_invoke,
    stop,
    wait_for_text,
)

pytestmark = pytest.mark.integration


def test_dev_runs_web_worker_and_beat_and_ctrl_c_stops_them_all(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in {"APP_ENV", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CI",
                          "CELERY_BROKER_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
               CELERY_FILESYSTEM_DIR=str(tmp_path / "celery"), APP_ENV="local")
    port = free_port()
    log = tmp_path / "dev.log"
    process = start_invoke(["dev", "--address", f"127.0.0.1:{port}"], env, log)
    try:
        for prefix in ("web    |", "worker |", "beat   |"):
            wait_for_text(log, prefix, process=process, timeout=90)
        wait_for_text(log, "ready.", process=process, timeout=90)  # the worker
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: http_get(f"{base}/healthz").status == 200, timeout=60)
        assert http_get(f"{base}/readyz").json()["failing"] == []  # the embedded broker included

        username = f"dev_{uuid.uuid4().hex[:6]}"
        invoke("createsuperuser", "--username", username, "--email", f"{username}@example.com",
               env={**env, "DJANGO_SUPERUSER_PASSWORD": "a-long-test-password-123"}, check=True)
        token = http_json("POST", f"{base}/api/v1/auth/token/",
                          {"username": username, "password": "a-long-test-password-123"}).json()["token"]
        created = http_json("POST", f"{base}/api/v1/messages/", {"text": "embedded"}, token=token)
        assert created.status == 201, created.body
        message_id = created.json()["id"]
        eventually(lambda: http_json("GET", f"{base}/api/v1/messages/{message_id}/").json()["status"]
                   == "processed", timeout=60, message="the worker processes it via the embedded broker")

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        assert process.wait(timeout=30) is not None
        output = log.read_text()
        for name in ("web", "worker", "beat"):
            assert f"{name} stopped" in output
    finally:
        stop(process)
