"""`invoke dev` on the embedded defaults: SQLite, the file-system broker, a real worker and beat."""

import os
import re
import signal
import time
import uuid

import pytest

from ops.testing import (
    eventually,
    free_port,
    http_get,
    http_json,
    invoke,
    redis_server,
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
        # Ctrl-C stops each one cleanly: no pool errors, nothing killed.
        assert "SIGKILL" not in output and "ERROR" not in output, output[-3000:]
        assert output.count("Watching for file changes") == 1  # autoreload's line once
    finally:
        stop(process)


def dev_env(tmp_path, **overrides):
    env = {key: value for key, value in os.environ.items()
           if key not in {"APP_ENV", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CI",
                          "CELERY_BROKER_URL", "REDIS_PASSWORD"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
               CELERY_FILESYSTEM_DIR=str(tmp_path / "celery"), APP_ENV="local", **overrides)
    return env


def test_dev_with_redis_down_serves_the_web_alone_and_says_so_in_one_paragraph(tmp_path):
    redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    port = free_port()
    log = tmp_path / "dev.log"
    process = start_invoke(["dev", "--address", f"127.0.0.1:{port}"], dev_env(tmp_path, REDIS_URL=redis_url),
                           log)
    try:
        wait_for_text(log, "Starting development server", process=process, timeout=90)
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: http_get(f"{base}/healthz").status == 200, timeout=60)
        time.sleep(5)  # long enough for a beat to die and take the web server down with it
        assert http_get(f"{base}/").status == 200
        assert process.poll() is None
        output = log.read_text()
        notices = [line for line in output.splitlines() if line.startswith("Redis (")]
        assert notices == [
            f"Redis ({redis_url}) does not answer (ConnectionError: Error 111 connecting to "
            f"127.0.0.1:{redis_url.split(':')[2].split('/')[0]}. Connection refused.). Serving local on "
            f"{base}/ without the worker and beat, which need it: jobs are not run and /readyz answers "
            f"503. To run them, start Redis (redis-server --daemonize yes --port 6379) and run `invoke "
            f"dev` again, or remove REDIS_URL (from .env) to use the embedded broker. Ctrl-C stops the "
            f"web server."]
        assert "worker |" not in output and "beat   |" not in output
        assert "Traceback" not in output

        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) is not None
        output = log.read_text()
        assert "web stopped" in output and "SIGKILL" not in output
    finally:
        stop(process)


def test_the_worker_and_beat_run_only_when_their_broker_answers(tmp_path):
    from ops.dev import dev_processes
    from ops.envvars import resolve

    environment = resolve("local", {"CELERY_FILESYSTEM_DIR": str(tmp_path)})
    assert list(dev_processes(environment, "127.0.0.1:8000", jobs=True)) == ["web", "worker", "beat"]
    assert list(dev_processes(environment, "127.0.0.1:8000", jobs=False)) == ["web"]
    worker = dev_processes(environment, "127.0.0.1:8000", jobs=True)["worker"]
    assert worker[worker.index("--pool") + 1] == "threads"  # Ctrl-C stops it with no pool to kill


def test_dev_keeps_serving_while_redis_dies_after_start_and_a_job_process_that_stops_restarts(tmp_path):
    """Redis answers at the start, then stops: worker and beat keep trying and the pages keep
    answering. A job process that stops all the same (here: beat, killed) is started again, and
    the web server goes on; Ctrl-C still stops everything cleanly."""
    redis_port = free_port()
    env = dev_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", CELERY_BEAT_MAX_LOOP_INTERVAL="1",
                  CELERY_BEAT_LOCK_TIMEOUT="5", BEAT_HEARTBEAT_FILE=str(tmp_path / "beat.heartbeat"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "dev.log"
    with redis_server(redis_port, tmp_path):
        process = start_invoke(["dev", "--address", f"127.0.0.1:{port}"], env, log)
        try:
            wait_for_text(log, "beat: Acquired lock", process=process, timeout=120)
            wait_for_text(log, "ready.", process=process, timeout=90)  # the worker
            eventually(lambda: http_get(f"{base}/healthz").status == 200, timeout=60)
        except BaseException:
            stop(process)
            raise
    try:
        wait_for_text(log, "beat: Redis does not answer", process=process)
        wait_for_text(log, "consumer: Connection to broker lost", process=process)
        # (eventually: runserver's autoreload may be restarting for an edit in the checkout.)
        for _ in range(3):
            eventually(lambda: http_get(f"{base}/").status == 200, timeout=30)
            time.sleep(1)

        beat_pid = int(re.findall(r"beat: process (\d+)", log.read_text())[-1])
        os.kill(beat_pid, signal.SIGKILL)
        wait_for_text(log, "beat stopped (exit code 137); starting it again in 5 s", process=process)
        eventually(lambda: len(re.findall(r"beat: process (\d+)", log.read_text())) == 2, timeout=60,
                   message="beat started again")
        eventually(lambda: http_get(f"{base}/").status == 200, timeout=30)
        assert process.poll() is None and "web stopped" not in log.read_text()

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) is not None
        output = log.read_text()
        for name in ("web", "worker", "beat"):
            assert f"{name} stopped (rc=" in output
        assert "SIGKILL" not in output, output[-3000:]
        assert "starting it again" not in output[output.index("SIGINT received"):]
    finally:
        stop(process)


def test_a_job_process_starts_once_the_web_server_answers(tmp_path):
    """after_answer: the command waits while nothing answers, starts as soon as something does
    (whatever the status), and starts anyway once its time is up."""
    import http.server
    import subprocess
    import sys
    import threading

    from ops.processes import after_answer
    from ops.testing import StandInHandler

    port = free_port()
    marker = tmp_path / "started"
    command = after_answer(f"http://127.0.0.1:{port}/healthz",
                           [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"], timeout=60)
    waiting = subprocess.Popen(command, cwd=tmp_path)  # any working directory
    try:
        time.sleep(1.5)
        assert waiting.poll() is None and not marker.exists()  # nothing answers yet
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), StandInHandler)  # 501 to GET
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            assert waiting.wait(timeout=30) == 0
        finally:
            server.shutdown()
            server.server_close()
        assert marker.exists()
    finally:
        waiting.kill()
        waiting.wait()
    gave_up = subprocess.run(after_answer(f"http://127.0.0.1:{free_port()}/", ["true"], timeout=1),
                             timeout=30)
    assert gave_up.returncode == 0
