"""Metrics in one process: labels, the scrape and its token rule, job outcomes, queue depth on real
brokers (Redis under a key prefix, the embedded file-system one). Across processes (gunicorn's
workers, Celery's pool): application_service/tests/test_metrics_live.py."""

from __future__ import annotations

import uuid
from http import HTTPStatus

import pytest
import redis
import structlog
from celery import Celery
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from prometheus_client import CollectorRegistry

from application_service import jobs, metrics, metrics_processes
from application_service.celery import app as celery_app
from ops.testing import free_port

pytestmark = pytest.mark.django_db

RECORDED = CollectorRegistry()
for metric in vars(metrics.recorded()).values():
    RECORDED.register(metric)


def value(name: str, **labels: str) -> float:
    return RECORDED.get_sample_value(name, labels) or 0.0


def total(name: str) -> float:
    return sum(sample.value for family in RECORDED.collect() for sample in family.samples
               if sample.name == name)


@pytest.fixture
def open_metrics(settings):
    settings.METRICS_PUBLIC = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_PATH = "/metrics"
    return settings


# Labels

def labelled(path: str) -> str:
    request = RequestFactory().get(path)
    try:
        request.resolver_match = resolve(path)
    except Resolver404:
        request.resolver_match = None
    return metrics.view_label(request)


def test_a_request_is_labelled_by_its_url_pattern_never_by_its_path():
    assert labelled("/api/v1/messages/1/") == labelled("/api/v1/messages/987654/") == "v1:message"
    assert labelled("/") == "application:hello"
    assert labelled("/accounts/login/") == "login"
    # The admin's catch-all has no name: its view's dotted path, the same for every address under it.
    catch_all = "admin:django.contrib.admin.sites.catch_all_view"
    assert labelled("/admin/x/") == labelled("/admin/y/z/") == catch_all
    # No pattern matched: one label for every such path.
    assert labelled("/no-such-page/") == labelled("/wp-login.php") == metrics.UNMATCHED
    assert labelled("/static/application/site.css") == metrics.STATIC


def test_a_method_http_does_not_define_counts_as_other():
    assert [metrics.method_label(m) for m in ("GET", "post", "PATCH", "OPTIONS")] == [
        "GET", "POST", "PATCH", "OPTIONS"]
    assert {metrics.method_label(m) for m in ("BREW", "PROPFIND", "G" * 300, "", None)} == {"other"}


@pytest.mark.parametrize(("authorization", "token", "public", "verdict"), [
    ("", "", True, HTTPStatus.OK),  # local, ci: open while no token is set
    ("Bearer anything", "", True, HTTPStatus.OK),
    ("", "", False, HTTPStatus.NOT_FOUND),  # production without a token: nothing there
    ("Bearer s3cret-token", "", False, HTTPStatus.NOT_FOUND),
    ("Bearer s3cret-token", "s3cret-token", False, HTTPStatus.OK),
    ("bearer  s3cret-token ", "s3cret-token", False, HTTPStatus.OK),
    ("", "s3cret-token", True, HTTPStatus.UNAUTHORIZED),  # a token set is required everywhere
    ("Bearer s3cret-toke", "s3cret-token", False, HTTPStatus.UNAUTHORIZED),
    ("Bearer s3cret-token-and-more", "s3cret-token", False, HTTPStatus.UNAUTHORIZED),
    ("Token s3cret-token", "s3cret-token", False, HTTPStatus.UNAUTHORIZED),
    ("s3cret-token", "s3cret-token", False, HTTPStatus.UNAUTHORIZED),
    ("Bearer s3cret-tökén", "s3cret-token", False, HTTPStatus.UNAUTHORIZED),  # not ASCII: no TypeError
])
def test_who_may_scrape(authorization, token, public, verdict):
    assert metrics.access(authorization, token=token, public=public) == verdict


# Requests

def test_requests_are_counted_and_timed_by_view_method_and_status_probes_and_scrapes_are_not(client,
                                                                                             open_metrics):
    missing = {"view": "v1:message", "method": "GET", "status": "404"}
    unmatched = {"view": metrics.UNMATCHED, "method": "GET", "status": "404"}
    invented = {"view": "v1:message", "method": "other"}
    before = (value("http_requests_total", **missing),
              value("http_request_duration_seconds_count", **missing),
              value("http_requests_total", **unmatched), total("http_requests_total"))

    for message_id in (1, 2, 3):  # three paths, one series
        assert client.get(f"/api/v1/messages/{message_id}/").status_code == 404  # no such message
    assert client.get("/no-such-page/").status_code == 404
    brewed = client.generic("BREW", "/api/v1/messages/1/")
    for path in ("/healthz", "/readyz", "/metrics"):
        client.get(path)

    assert value("http_requests_total", **missing) == before[0] + 3
    assert value("http_request_duration_seconds_count", **missing) == before[1] + 3
    assert value("http_request_duration_seconds_sum", **missing) > 0
    assert value("http_requests_total", **unmatched) == before[2] + 1
    assert value("http_requests_total", **invented, status=str(brewed.status_code)) >= 1
    assert total("http_requests_total") == before[3] + 5  # not the probes, not the scrape


def test_a_scrape_is_prometheus_text_with_every_metric_and_the_queues(client, open_metrics):
    client.get("/no-such-page/")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    assert "# TYPE http_requests_total counter" in body
    assert "# TYPE http_request_duration_seconds histogram" in body
    assert 'http_requests_total{method="GET",status="404",view="unmatched"}' in body
    assert "# TYPE celery_queue_depth gauge" in body and 'celery_queue_depth{queue="celery"}' in body
    # A scraper reaches an instance by its address, over plain HTTP: no host check, no redirect.
    assert client.get("/metrics", HTTP_HOST="10.0.0.9").status_code == 200
    assert client.get("/metrics/").status_code == 200


def test_with_a_token_only_its_bearer_is_let_in(client, open_metrics):
    open_metrics.METRICS_TOKEN = "a-long-metrics-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert "http_requests_total" not in refused.content.decode()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token a-long-metrics-token").status_code == 401
    served = client.get("/metrics", HTTP_AUTHORIZATION="Bearer a-long-metrics-token")
    assert served.status_code == 200 and "celery_queue_depth" in served.content.decode()


def test_where_metrics_are_not_public_and_no_token_is_set_the_path_does_not_exist(client, open_metrics):
    open_metrics.METRICS_PUBLIC = False
    hidden = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    unknown = client.get("/no-such-page/")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.content == unknown.content  # told apart from no other unknown address


def test_the_path_is_metrics_path(client, open_metrics):
    open_metrics.METRICS_PATH = "/internal/prometheus"
    assert client.get("/internal/prometheus").status_code == 200
    assert client.get("/metrics").status_code == 404


# Jobs: Celery's own signals, in the process that runs the job (here: eagerly, in this one)

@celery_app.task(name="tests.metrics.succeeds")
def succeeds() -> int:
    return 1


@celery_app.task(name="tests.metrics.fails")
def fails() -> None:
    raise ValueError("as it should")


@celery_app.task(name="tests.metrics.retries_once", bind=True, max_retries=1)
def retries_once(self) -> str:
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "second try"


def test_jobs_are_counted_by_outcome_and_timed():
    metrics.connect_job_signals()
    metrics.connect_job_signals()  # twice: still counted once
    before = {(job, outcome): value("celery_jobs_total", job=job, outcome=outcome)
              for job in ("tests.metrics.succeeds", "tests.metrics.fails", "tests.metrics.retries_once")
              for outcome in ("succeeded", "failed", "retried")}
    timed = value("celery_job_duration_seconds_count", job="tests.metrics.succeeds")

    assert succeeds.apply().get() == 1
    assert succeeds.apply().get() == 1
    assert isinstance(fails.apply().result, ValueError)
    assert retries_once.apply().get() == "second try"

    def added(job, outcome):
        return value("celery_jobs_total", job=job, outcome=outcome) - before[(job, outcome)]

    assert added("tests.metrics.succeeds", "succeeded") == 2
    assert added("tests.metrics.fails", "failed") == 1
    assert added("tests.metrics.fails", "succeeded") == 0
    assert added("tests.metrics.retries_once", "retried") == 1
    assert added("tests.metrics.retries_once", "succeeded") == 1
    assert value("celery_job_duration_seconds_count", job="tests.metrics.succeeds") == timed + 2
    assert metrics.started_at == {}  # every start met its end


# Queues

def broker_app(broker: str, **transport_options) -> Celery:
    app = Celery("metrics-test", broker=broker, set_as_current=False)
    app.conf.broker_transport_options = transport_options
    app.conf.broker_connection_timeout = 2
    return app


@pytest.fixture
def prefixed_redis(redis_url):
    prefix = f"metrics-test-{uuid.uuid4().hex[:8]}:"
    yield broker_app(redis_url, global_keyprefix=prefix), prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_queue_depth_on_redis_counts_every_priority_under_the_key_prefix(prefixed_redis, redis_url):
    app, prefix = prefixed_redis
    assert metrics.queue_depths(app) == {"celery": 0}  # nothing published: no key at all
    for _ in range(3):
        app.send_task("tests.metrics.nobody_runs_this")
    app.send_task("tests.metrics.nobody_runs_this", priority=6)  # a list of its own in Redis
    assert metrics.queue_depths(app) == {"celery": 4}
    keys = {key.decode(errors="replace")
            for key in redis.Redis.from_url(redis_url).scan_iter(f"{prefix}celery*")}
    assert f"{prefix}celery" in keys and len(keys) == 2  # the lengths read were the prefixed lists


def test_queue_depth_on_the_embedded_broker_counts_its_message_files(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    app = broker_app("filesystem://", data_folder_in=str(folder), data_folder_out=str(folder),
                     control_folder=str(tmp_path))
    assert metrics.queue_depths(app) == {"celery": 0}
    app.send_task("tests.metrics.nobody_runs_this")
    app.send_task("tests.metrics.nobody_runs_this")
    assert metrics.queue_depths(app) == {"celery": 2}


def test_with_the_broker_away_a_scrape_goes_on_without_the_gauge_and_says_why():
    app = broker_app(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    with structlog.testing.capture_logs() as logged:
        assert list(metrics.QueueDepthCollector(app).collect()) == []
    assert [entry["event"] for entry in logged] == ["queue_depth_unavailable"]
    assert "Connection" in logged[0]["error"]


def test_the_queue_depth_job_logs_one_line_per_queue():
    with structlog.testing.capture_logs() as logged:
        jobs.queues_log_depth()
    depths = [entry for entry in logged if entry["event"] == "queue_depth"]
    assert [entry["queue"] for entry in depths] == sorted(celery_app.amqp.queues) == ["celery"]
    assert all(isinstance(entry["depth"], int) and entry["depth"] >= 0 for entry in depths)
    assert all(entry["log_level"] == "info" for entry in depths)


def test_beat_runs_the_queue_depth_job_every_queue_depth_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["queues-log-depth"]
    assert entry["task"] == jobs.queues_log_depth.name == "application_service.jobs.queues_log_depth"
    assert entry["schedule"] == settings.QUEUE_DEPTH_SECONDS == 60
    assert entry["options"] == {"expires": 60}


# The multiprocess directory

def test_a_server_without_a_directory_gets_a_temporary_one_removed_at_its_end():
    environ: dict[str, str] = {}
    made = metrics_processes.prepare_directory(environ)
    try:
        assert made and environ[metrics_processes.VARIABLE] == made
        assert metrics_processes.made_directory == made
    finally:
        metrics_processes.remove_directory()
    assert not __import__("os").path.exists(made)
    assert metrics_processes.made_directory is None


def test_a_given_directory_loses_the_last_runs_values_and_nothing_else(tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    for name in ("counter_101.db", "histogram_102.db", "notes.txt"):
        (directory / name).write_text("x")
    environ = {metrics_processes.VARIABLE: str(directory)}
    assert metrics_processes.prepare_directory(environ) is None
    assert sorted(path.name for path in directory.iterdir()) == ["notes.txt"]
    metrics_processes.remove_directory()  # not made here: it stays
    assert directory.is_dir()
    missing = tmp_path / "not-yet"
    assert metrics_processes.prepare_directory({metrics_processes.VARIABLE: str(missing)}) is None
    assert missing.is_dir()
