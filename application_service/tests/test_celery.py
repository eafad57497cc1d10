"""Celery for real: worker and beat processes started through invoke, Redis as the broker,
the API creating messages over HTTP, and the failures the issue names: a worker killed
mid-job, Redis stopped, a broker that accepts connections but never answers."""

import socket
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import pytest

from ops.testing import (
    SwitchableProxy,
    eventually,
    free_port,
    http_get,
    http_json,
    invoke,
    kill,
    mysql_admin_connection,
    redis_server,
    running,
    serving,
    start_invoke,
    stop,
    wait_for_text,
)

pytestmark = pytest.mark.integration

WORKER_READY = "ready."
PASSWORD = "a-long-test-password-123"


@pytest.fixture(scope="module")
def api_user(service_database):
    username = f"writer_{uuid.uuid4().hex[:6]}"
    invoke("createsuperuser", "--username", username, "--email", f"{username}@example.com",
           env={**service_database, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, check=True)
    return username


@pytest.fixture
def stack_env(service_database):
    """The service database, with queues and cache keys of this test's own on the shared Redis."""
    prefix = f"it-{uuid.uuid4().hex[:8]}:"
    return {**service_database, "CELERY_KEY_PREFIX": prefix, "CACHE_KEY_PREFIX": f"{prefix}cache",
            "CELERY_FILESYSTEM_DIR": ""}


def token_for(server, username):
    response = http_json("POST", server.url("/api/v1/auth/token/"),
                         {"username": username, "password": PASSWORD})
    assert response.status == 200, response.body
    return response.json()["token"]


def create_message(server, token, text):
    started = time.monotonic()
    response = http_json("POST", server.url("/api/v1/messages/"), {"text": text}, token=token)
    assert response.status == 201, response.body
    return response.json()["id"], time.monotonic() - started


def status_of(server, message_id):
    response = http_json("GET", server.url(f"/api/v1/messages/{message_id}/"))
    assert response.status == 200, response.body
    return response.json()["status"]


def processed_count(service_database, mysql_url):
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    admin = mysql_admin_connection(mysql_url)
    try:
        cursor = admin.cursor()
        cursor.execute(f"SELECT value FROM `{name}`.application_counter WHERE name = %s",
                       ["messages-processed"])
        row = cursor.fetchone()
    finally:
        admin.close()
    return row[0] if row else 0


def test_a_message_posted_to_the_api_is_processed_by_a_worker(stack_env, api_user, tmp_path):
    with serving(stack_env, tmp_path) as server, \
            running(["celery", "--concurrency", "2"], stack_env, tmp_path / "worker.log",
                    ready=WORKER_READY):
        token = token_for(server, api_user)
        message_id, _ = create_message(server, token, "process me 👋")
        eventually(lambda: status_of(server, message_id) == "processed", timeout=30,
                   message=f"message {message_id} processed")
        ready = http_get(server.url("/readyz")).json()
        assert ready["failing"] == [], ready


def test_a_job_killed_mid_way_completes_exactly_once(stack_env, api_user, tmp_path, service_database,
                                                    mysql_url):
    """The job is held mid-way by a lock on its message's row (taken here, in a connection of the
    test's own), so the worker can be killed while the job's transaction is open."""
    env = {**stack_env, "CELERY_TASK_TIME_LIMIT": "6", "CELERY_SOFT_LIMIT_MARGIN": "1",
           "CELERY_VISIBILITY_TIMEOUT": "8", "CELERY_UNACKED_RESTORE_INTERVAL": "1",
           "CELERY_UNACKED_RESTORE_THROTTLE": "1"}
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    before = processed_count(service_database, mysql_url)
    with serving(env, tmp_path) as server:
        token = token_for(server, api_user)
        message_id, _ = create_message(server, token, "held job")  # queued: no worker runs yet
        holder = mysql_admin_connection(mysql_url)
        holder.autocommit(False)
        first_log = tmp_path / "worker-1.log"
        try:
            holder.cursor().execute(f"SELECT id FROM `{name}`.application_message WHERE id = %s "
                                    f"FOR UPDATE", [message_id])
            first = start_invoke(["celery", "--concurrency", "1"], env, first_log)
            try:
                wait_for_text(first_log, "application.jobs.message_process[", process=first)
                time.sleep(1.5)  # the job waits for the row inside its transaction
            finally:
                kill(first)
        finally:
            holder.rollback()
            holder.close()
        assert "succeeded" not in first_log.read_text()
        assert status_of(server, message_id) == "pending"  # the killed job committed nothing

        with running(["celery", "--concurrency", "1"], env, tmp_path / "worker-2.log",
                     ready=WORKER_READY):
            eventually(lambda: status_of(server, message_id) == "processed", timeout=60,
                       message="the redelivered job finishes")
            time.sleep(3)
        second_log = (tmp_path / "worker-2.log").read_text()
    assert second_log.count("succeeded") == 1
    assert processed_count(service_database, mysql_url) == before + 1


def test_messages_created_while_redis_is_down_are_processed_when_it_is_back(stack_env, api_user,
                                                                              tmp_path):
    port = free_port()
    env = {**stack_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "MESSAGE_SWEEP_SECONDS": "2",
           "MESSAGE_SWEEP_GRACE_SECONDS": "1"}
    with serving(env, tmp_path) as server:
        with redis_server(port, tmp_path):
            token = token_for(server, api_user)
        # Redis is down now: the API and the pages keep answering; messages stay pending.
        created = [create_message(server, token, f"while down {n}") for n in range(5)]
        assert all(elapsed < 10 for _, elapsed in created), created
        assert http_get(server.url("/")).status == 200
        ready = http_get(server.url("/readyz"))
        assert ready.status == 503 and "broker" in ready.json()["failing"]
        assert {status_of(server, message_id) for message_id, _ in created} == {"pending"}

        with redis_server(port, tmp_path), \
                running(["celery", "--concurrency", "2"], env, tmp_path / "worker.log",
                        ready=WORKER_READY), \
                running(["celery.beat"], env, tmp_path / "beat.log", ready="beat: Starting"):
            eventually(lambda: all(status_of(server, m) == "processed" for m, _ in created),
                       timeout=90, message="the sweep processes every pending message")


def test_a_blackholed_broker_does_not_hang_the_request(stack_env, api_user, tmp_path, redis_url):
    proxy = SwitchableProxy(target_port=urlsplit(redis_url).port or 6379)
    env = {**stack_env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{proxy.port}/0",
           "MESSAGE_SWEEP_SECONDS": "2", "MESSAGE_SWEEP_GRACE_SECONDS": "1"}
    try:
        with serving(env, tmp_path) as server:
            token = token_for(server, api_user)
            message_id, elapsed = create_message(server, token, "into the void")
            assert elapsed < 10, f"creating a message took {elapsed:.1f}s with a blackholed broker"
            assert status_of(server, message_id) == "pending"

            proxy.forward()  # the broker is back
            with running(["celery", "--concurrency", "1"], env, tmp_path / "worker.log",
                         ready=WORKER_READY), \
                    running(["celery.beat"], env, tmp_path / "beat.log", ready="beat: Starting"):
                eventually(lambda: status_of(server, message_id) == "processed", timeout=60,
                           message="the sweep publishes the pending message")
    finally:
        proxy.close()


def test_beat_runs_the_periodic_sweep_and_only_one_beat_runs(stack_env, api_user, tmp_path,
                                                             service_database, mysql_url):
    env = {**stack_env, "MESSAGE_SWEEP_SECONDS": "1", "MESSAGE_SWEEP_GRACE_SECONDS": "0"}
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    admin = mysql_admin_connection(mysql_url)
    try:  # a message saved without a job, as if the broker had been down
        cursor = admin.cursor()
        cursor.execute(f"INSERT INTO `{name}`.application_message (author_id, text, status, "
                       f"created_at, updated_at) SELECT id, 'left pending', 'pending', NOW(6), NOW(6) "
                       f"FROM `{name}`.accounts_user WHERE username = %s", [api_user])
        message_id = cursor.lastrowid
    finally:
        admin.close()

    def status():
        connection = mysql_admin_connection(mysql_url)
        try:
            cursor = connection.cursor()
            cursor.execute(f"SELECT status FROM `{name}`.application_message WHERE id = %s", [message_id])
            return cursor.fetchone()[0]
        finally:
            connection.close()

    with running(["celery", "--concurrency", "1"], env, tmp_path / "worker.log", ready=WORKER_READY), \
            running(["celery.beat"], env, tmp_path / "beat-1.log", ready="beat: Starting"):
        second = start_invoke(["celery.beat"], env, tmp_path / "beat-2.log")
        try:
            eventually(lambda: status() == "processed", timeout=60, message="beat's sweep ran")
            wait_for_text(tmp_path / "beat-1.log", "Sending due task message-sweep-pending")
            time.sleep(3)
            assert "Sending due task" not in (tmp_path / "beat-2.log").read_text()
        finally:
            stop(second)


@pytest.fixture
def tls_redis(tmp_path):
    """A redis-server speaking only TLS (as ElastiCache with in-transit encryption), its
    certificate signed by a CA of the test's own, which the processes trust via SSL_CERT_FILE."""
    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], cwd=tmp_path, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "redis.key",
            "-out", "redis.csr")
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-extfile", "san.ext", "-out", "redis.pem")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--tls-cert-file", "redis.pem",
         "--tls-key-file", "redis.key", "--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        eventually(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
                   timeout=10, message="redis-server listens with TLS")
        yield {"REDIS_URL": f"rediss://localhost:{port}/0", "SSL_CERT_FILE": str(tmp_path / "ca.pem")}
    finally:
        stop(process)


def test_redis_over_tls_carries_the_cache_the_broker_and_the_jobs(stack_env, api_user, tmp_path, tls_redis):
    env = {**stack_env, **tls_redis}
    with serving(env, tmp_path) as server, \
            running(["celery", "--concurrency", "1", "--beat"], env, tmp_path / "worker.log",
                    ready=WORKER_READY):
        ready = http_get(server.url("/readyz")).json()
        assert ready["failing"] == [], ready  # the cache and the broker answer over TLS
        token = token_for(server, api_user)
        message_id, _ = create_message(server, token, "over TLS")
        eventually(lambda: status_of(server, message_id) == "processed", timeout=30,
                   message="the job went through the TLS broker")
    assert "beat: Starting" in (tmp_path / "worker.log").read_text()


def test_a_tls_redis_whose_certificate_is_not_trusted_is_not_ready(stack_env, tmp_path, tls_redis):
    env = {**stack_env, "REDIS_URL": tls_redis["REDIS_URL"]}  # no SSL_CERT_FILE: the CA is unknown
    with serving(env, tmp_path) as server:
        ready = http_get(server.url("/readyz"))
        assert ready.status == 503
        assert {"cache", "broker"} <= set(ready.json()["failing"])
