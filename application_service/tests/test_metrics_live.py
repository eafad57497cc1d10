"""Metrics across real processes: `invoke serve` (gunicorn, 2 workers) on MariaDB and Redis, whose
/metrics merges every worker's counts; a Celery worker (prefork, 2 processes) serving its jobs'
metrics on METRICS_PORT; the queue depth read from Redis under the key prefix; production's token
rule."""

from __future__ import annotations

import json
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from ops.testing import eventually, free_port, http_get, running, serving

pytestmark = pytest.mark.integration

WORKER_READY = "ready."
METRICS_VARIABLES = ("METRICS_TOKEN", "METRICS_PUBLIC", "METRICS_PATH", "METRICS_PORT", "METRICS_ADDRESS",
                     "PROMETHEUS_MULTIPROC_DIR")


def value(body: str, name: str, **labels: str) -> float | None:
    """The sample `name` with exactly these labels in a scrape's body (None: absent)."""
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def total(body: str, name: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(body)
               for sample in family.samples if sample.name == name)


@pytest.fixture
def stack_env(service_database, redis_url):
    """The service database, with queues and cache keys of this test's own on the shared Redis
    (removed afterwards), and no metrics settings from outside."""
    prefix = f"metrics-it-{uuid.uuid4().hex[:8]}:"
    env = {**service_database, "CELERY_KEY_PREFIX": prefix, "CACHE_KEY_PREFIX": f"{prefix}cache",
           "CELERY_FILESYSTEM_DIR": ""}
    for name in METRICS_VARIABLES:
        env.pop(name, None)
    yield env
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def publisher(stack_env) -> Celery:
    """A Celery client of the test's own, publishing into the service's queues under its prefix."""
    app = Celery("metrics-live-test", broker=stack_env["REDIS_URL"], set_as_current=False)
    app.conf.broker_transport_options = {"global_keyprefix": stack_env["CELERY_KEY_PREFIX"]}
    return app


def test_every_gunicorn_workers_requests_add_up_in_one_scrape_with_the_queues_depth(stack_env, tmp_path):
    directory = tmp_path / "web-metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_text("the last run's")  # not a valid file: it must go at start
    env = {**stack_env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    with serving(env, tmp_path, workers=2) as server:
        assert not (directory / "counter_1.db").exists()

        def counting_processes() -> set[str]:
            return {path.name for path in directory.glob("counter_*.db")}

        # Batches until both workers have answered some (the second may still be starting).
        sent = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            while len(counting_processes()) < 2 and sent < 2000:
                statuses = list(pool.map(
                    lambda _: http_get(server.url("/accounts/login/"), timeout=30).status, range(40)))
                assert statuses == [200] * 40
                sent += 40
        assert len(counting_processes()) == 2, f"one worker answered all {sent} requests"
        for _ in range(3):
            assert http_get(server.url("/no-such-page/")).status == 404
        http_get(server.url("/healthz"))

        scraped = http_get(server.url("/metrics"))
        assert scraped.status == 200  # ci: open while no METRICS_TOKEN is set
        body = scraped.body
        login = {"view": "login", "method": "GET", "status": "200"}
        assert value(body, "http_requests_total", **login) == sent  # both workers', not one's share
        assert value(body, "http_request_duration_seconds_count", **login) == sent
        assert value(body, "http_request_duration_seconds_bucket", **login, le="+Inf") == sent
        assert value(body, "http_requests_total", view="unmatched", method="GET", status="404") == 3
        assert total(body, "http_requests_total") == sent + 3  # probes and scrapes are not counted

        # Published with no worker consuming: the depth is read from Redis under the prefix.
        assert value(body, "celery_queue_depth", queue="celery") == 0
        client = publisher(stack_env)
        for _ in range(3):
            client.send_task("tests.metrics.nobody_runs_this")
        assert value(http_get(server.url("/metrics")).body, "celery_queue_depth", queue="celery") == 3


def test_a_celery_workers_pool_processes_count_jobs_its_main_process_serves(stack_env, tmp_path):
    client = publisher(stack_env)
    client.send_task("application_service.jobs.queues_log_depth")
    client.send_task("accounts.jobs.sessions_clear_expired", args=["unexpected"])  # a TypeError: fails
    token = secrets.token_urlsafe(24)
    port = free_port()
    env = {**stack_env, "METRICS_PORT": str(port), "METRICS_TOKEN": token}
    url = f"http://127.0.0.1:{port}/metrics"
    bearer = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "worker.log"
    with running(["celery", "--concurrency", "2"], env, log, ready=WORKER_READY):
        def both_jobs_counted() -> str | None:
            body = http_get(url, headers=bearer).body
            succeeded = value(body, "celery_jobs_total", job="application_service.jobs.queues_log_depth",
                              outcome="succeeded")
            failed = value(body, "celery_jobs_total", job="accounts.jobs.sessions_clear_expired",
                           outcome="failed")
            return body if (succeeded, failed) == (1, 1) else None

        body = eventually(both_jobs_counted, timeout=90, message="both jobs counted at the worker's endpoint")
        assert total(body, "celery_jobs_total") == 2
        for job in ("application_service.jobs.queues_log_depth", "accounts.jobs.sessions_clear_expired"):
            assert value(body, "celery_job_duration_seconds_count", job=job) == 1
        assert value(body, "celery_queue_depth", queue="celery") == 0  # the worker took both
        # The token rule of the web, here with a token set (ci).
        refused = http_get(url)
        assert refused.status == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        assert http_get(url, headers={"Authorization": "Bearer not-it"}).status == 401
        assert http_get(f"http://127.0.0.1:{port}/elsewhere", headers=bearer).status == 404

    # The contract's line, one per queue, from the job (JSON in ci, as in production).
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    reports = [line for line in lines if line.get("message") == "queue_depth"]
    assert [(line["queue"], type(line["depth"])) for line in reports] == [("celery", int)], log.read_text()
    assert reports[0]["level"] == "info" and reports[0]["depth"] >= 0


def production_env(stack_env, tmp_path, **variables) -> dict[str, str]:
    return {**stack_env, "APP_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1", "NUM_PROXIES": "0", "TMPDIR": str(tmp_path),
            "SECURE_SSL_REDIRECT": "false", **variables}  # plain HTTP here: no TLS in front


def test_production_hides_metrics_without_a_token_and_serves_them_to_its_bearer_only(stack_env, tmp_path):
    without = tmp_path / "without"
    without.mkdir()
    with serving(production_env(stack_env, without), without, workers=1) as server:
        assert http_get(server.url("/metrics")).status == 404
        assert http_get(server.url("/metrics"), headers={"Authorization": "Bearer a-guess"}).status == 404

    token = secrets.token_urlsafe(32)
    with_token = tmp_path / "with"
    with_token.mkdir()
    with serving(production_env(stack_env, with_token, METRICS_TOKEN=token), with_token, workers=1) as server:
        # No PROMETHEUS_MULTIPROC_DIR given: gunicorn's master made one of its own.
        assert len(list(with_token.glob("prometheus-*"))) == 1
        http_get(server.url("/no-such-page/"))
        refused = http_get(server.url("/metrics"))
        assert refused.status == 401 and "http_requests_total" not in refused.body
        wrong = {"Authorization": "Bearer not-the-token"}
        assert http_get(server.url("/metrics"), headers=wrong).status == 401
        served = http_get(server.url("/metrics"), headers={"Authorization": f"Bearer {token}"})
        assert served.status == 200
        assert total(served.body, "http_requests_total") == 1
    assert list(with_token.glob("prometheus-*")) == []  # removed when gunicorn stopped
