"""Beat outlives Redis, on real processes: started while Redis is away (alone and inside a
worker), through a Redis that stops and comes back empty (restarted without persistence, as it
loses every queued job), two beats at once, and the health check that catches an embedded beat
that died. Each test runs a redis-server of its own on a free port, so that it can stop it; the
database is the service's MariaDB."""

from __future__ import annotations

import json
import os
import re
import signal
import uuid

import pytest
import redis
from test_celery import PASSWORD, WORKER_READY, create_message, status_of, token_for

from ops.testing import (
    eventually,
    free_port,
    invoke,
    redis_server,
    running,
    serving,
    start_invoke,
    stop,
    wait_for_text,
)

pytestmark = pytest.mark.integration

SWEEP = "Sending due task message-sweep-pending"
REDIS_AWAY = "beat: Redis does not answer"
BEAT_PROCESS = re.compile(r"beat: process (\d+)")


@pytest.fixture
def beat_env(service_database, tmp_path):
    """The service database, a Redis of the test's own (not started yet) and short intervals:
    beat ticks every second, sweeps every second, and counts as dead 10 s after its last tick."""
    port = free_port()
    prefix = f"beat-{uuid.uuid4().hex[:8]}:"
    return {**service_database, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "CELERY_KEY_PREFIX": prefix,
            "CACHE_KEY_PREFIX": f"{prefix}cache", "CELERY_FILESYSTEM_DIR": "",
            "CELERY_BEAT_MAX_LOOP_INTERVAL": "1", "CELERY_BEAT_LOCK_TIMEOUT": "5",
            "MESSAGE_SWEEP_SECONDS": "1", "MESSAGE_SWEEP_GRACE_SECONDS": "0",
            "BEAT_HEARTBEAT_FILE": str(tmp_path / "beat.heartbeat"), "BEAT_HEARTBEAT_MAX_AGE": "10"}


def redis_port(env) -> int:
    return int(env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])


def since(log, offset: int) -> str:
    return log.read_text(errors="replace")[offset:]


@pytest.mark.parametrize("role", [["celery", "--concurrency", "1", "--beat"], ["celery.beat"]],
                         ids=["inside-a-worker", "alone"])
def test_beat_started_while_redis_is_away_schedules_once_it_is_back(role, beat_env, tmp_path):
    log = tmp_path / "beat.log"
    process = start_invoke(role, beat_env, log)
    try:
        wait_for_text(log, REDIS_AWAY, process=process)
        eventually(lambda: process.poll() is None and log.read_text().count("beat: ") >= 2, timeout=10)
        with redis_server(redis_port(beat_env), tmp_path):
            wait_for_text(log, SWEEP, process=process, timeout=60)
            output = log.read_text()
    finally:
        stop(process)
    assert output.count(REDIS_AWAY) == 1  # one line for the outage, not one per try
    assert "beat: Redis answers again" in output
    assert "Traceback" not in output, output[-3000:]


@pytest.fixture
def api_user(beat_env, tmp_path):
    username = f"beat_{uuid.uuid4().hex[:6]}"
    invoke("createsuperuser", "--username", username, "--email", f"{username}@example.com",
           env={**beat_env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, check=True)
    return username


def queued_jobs(port: int, env) -> list[str]:
    """The names of the jobs waiting in the broker's queue."""
    client = redis.Redis(port=port)
    try:
        return [json.loads(body)["headers"]["task"]
                for body in client.lrange(f"{env['CELERY_KEY_PREFIX']}celery", 0, -1)]
    finally:
        client.close()


def test_two_beats_through_a_redis_restarted_empty_one_sends_and_the_sweep_recovers_lost_jobs(
        beat_env, api_user, tmp_path):
    """Jobs queued while no worker runs are lost with a Redis restarted without persistence.
    Beat (one of two; the other stands by) runs through the outage, takes the lock again once
    Redis is back, and its sweep publishes the lost jobs for the worker started afterwards."""
    port = redis_port(beat_env)
    logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]
    with serving(beat_env, tmp_path) as server, \
            running(["celery.beat"], beat_env, logs[0], ready="beat: process") as first, \
            running(["celery.beat"], beat_env, logs[1], ready="beat: process") as second:
        with redis_server(port, tmp_path):
            token = token_for(server, api_user)
            created = [create_message(server, token, f"queued {n}")[0] for n in range(3)]
            eventually(lambda: any(SWEEP in log.read_text() for log in logs), timeout=30)
            assert queued_jobs(port, beat_env).count("application.jobs.message_process") == 3
            senders = [SWEEP in log.read_text() for log in logs]
            assert senders.count(True) == 1, "both beats sent"
            assert "standing by" in logs[senders.index(False)].read_text()

        for log, process in zip(logs, (first, second), strict=True):
            wait_for_text(log, REDIS_AWAY, process=process)
        offsets = [len(log.read_text()) for log in logs]
        with redis_server(port, tmp_path):  # back, empty
            eventually(lambda: any(SWEEP in since(log, offset)
                                   for log, offset in zip(logs, offsets, strict=True)),
                       timeout=60, message="a beat sends again")
            assert "application.jobs.message_process" not in queued_jobs(port, beat_env)  # lost
            with running(["celery", "--concurrency", "1"], beat_env, tmp_path / "worker.log",
                         ready=WORKER_READY):
                eventually(lambda: all(status_of(server, m) == "processed" for m in created),
                           timeout=90, message="the sweep publishes the jobs Redis lost")
            assert first.poll() is None and second.poll() is None
            sent = [SWEEP in since(log, offset) for log, offset in zip(logs, offsets, strict=True)]
            assert sent.count(True) == 1, "both beats sent after the outage"


def health(env, *options):
    """`invoke celery.health OPTIONS` (its output, both streams, and exit code)."""
    result = invoke("celery.health", *options, env=env)
    return result.returncode, result.stdout + result.stderr


def test_a_worker_with_beat_rides_out_an_outage_and_fails_its_health_check_once_beat_dies(beat_env, tmp_path):
    port = redis_port(beat_env)
    log = tmp_path / "worker.log"
    worker = start_invoke(["celery", "--concurrency", "1", "--beat"], beat_env, log)
    try:
        with redis_server(port, tmp_path):
            wait_for_text(log, WORKER_READY, process=worker)
            wait_for_text(log, SWEEP, process=worker)
            code, output = health(beat_env, "--beat")
            assert code == 0, output
            assert "beat ticked" in output and "answers" in output

        wait_for_text(log, REDIS_AWAY, process=worker)
        code, output = health(beat_env, "--beat")  # no broker: the worker cannot answer
        assert code == 1 and "does not answer through its broker" in output, output

        offset = len(log.read_text())
        with redis_server(port, tmp_path):  # back, empty
            wait_for_text(log, SWEEP, process=worker, start=offset)  # beat resumed
            eventually(lambda: health(beat_env, "--beat")[0] == 0, timeout=90,
                       message="the worker reconnects and answers")

            os.kill(int(BEAT_PROCESS.findall(log.read_text())[-1]), signal.SIGKILL)
            code, output = eventually(lambda: (result := health(beat_env, "--beat"))[0] and result,
                                      timeout=60, message="the health check fails")
            assert code == 1 and "beat last ticked" in output, output
            # The worker goes on without its beat: only the health check tells.
            assert worker.poll() is None
            assert health(beat_env)[0] == 0
    finally:
        stop(worker)
