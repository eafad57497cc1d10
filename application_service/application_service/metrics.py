"""Prometheus metrics: requests by view, method and status; jobs by name and outcome; queue depth.

Every label has a bounded set of values: a request's view is its URL pattern's name (never the
path), an unknown method is "other". In multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which each
server sets at its start: metrics_processes) every process writes its values to files there and
a scrape merges them; elsewhere (runserver, tests) they live in the process.
The web answers scrapes at METRICS_PATH; a Celery worker serves its own on METRICS_PORT. Either
asks for METRICS_TOKEN when one is set, and without one answers only where METRICS_PUBLIC is true.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, make_server

import structlog
from celery.signals import task_failure, task_postrun, task_prerun, task_retry, task_success
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from kombu.exceptions import ChannelError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.core import GaugeMetricFamily

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Recorded:
    requests: Counter
    request_seconds: Histogram
    jobs: Counter
    job_seconds: Histogram


@cache
def recorded() -> Recorded:
    """The metrics, made on first use. prometheus_client is imported only then, never with this
    module: Django's checks import the middleware's module in a Celery worker's main process before
    the worker sets PROMETHEUS_MULTIPROC_DIR, which prometheus_client reads once, when imported."""
    from prometheus_client import Counter, Histogram

    labels = ("view", "method", "status")
    return Recorded(
        requests=Counter("http_requests", "HTTP requests answered, by view, method and status.", labels,
                         registry=None),
        request_seconds=Histogram("http_request_duration_seconds", "Seconds from a request reaching "
                                  "Django to its response, by view, method and status.", labels,
                                  registry=None),
        jobs=Counter("celery_jobs", "Celery jobs run, by job and outcome (succeeded, failed, retried).",
                     ("job", "outcome"), registry=None),
        # Up to the jobs' default hard time limit, 300 s.
        job_seconds=Histogram("celery_job_duration_seconds", "Seconds a Celery job ran, by job.", ("job",),
                              buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
                              registry=None),
    )


# No URL pattern matched: a 404, or answered before routing (a refused host, the HTTPS redirect).
UNMATCHED = "unmatched"
STATIC = "static"  # served by WhiteNoise, before any URL pattern
OTHER_METHOD = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def view_label(request: HttpRequest) -> str:
    """The matched URL pattern's name with its namespace (`v1:message`, `admin:index`; the view's
    dotted path when the pattern has no name): one series per pattern, whatever the path held."""
    match = request.resolver_match
    if match is not None:
        return match.view_name
    if settings.STATIC_URL and request.path.startswith(settings.STATIC_URL):
        return STATIC
    return UNMATCHED


def method_label(method: str | None) -> str:
    """The method, when HTTP defines it: anything a client makes up counts as "other"."""
    method = (method or "").upper()
    return method if method in METHODS else OTHER_METHOD


def access(authorization: str, *, token: str, public: bool) -> HTTPStatus:
    """Whether a scrape is answered (OK), refused (UNAUTHORIZED) or told that nothing is there
    (NOT_FOUND). With a token configured only `Bearer <token>` is let in, compared in constant
    time; without one the metrics are served where they are public (local, ci) and hidden elsewhere,
    so that they never become public by accident."""
    if not token:
        return HTTPStatus.OK if public else HTTPStatus.NOT_FOUND
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
        return HTTPStatus.OK
    return HTTPStatus.UNAUTHORIZED


def metrics_paths() -> tuple[str, str]:
    path = settings.METRICS_PATH
    return path, f"{path}/"


class MetricsMiddleware:
    """Answers scrapes at METRICS_PATH (before host validation and the HTTPS redirect, as the
    probes are: a scraper reaches an instance by its address); counts and times every other
    request that gets this far (the probes are answered before)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in metrics_paths():
            return scrape(request)
        started = time.perf_counter()
        response = self.get_response(request)
        labels = (view_label(request), method_label(request.method), str(response.status_code))
        metrics = recorded()
        metrics.requests.labels(*labels).inc()
        metrics.request_seconds.labels(*labels).observe(time.perf_counter() - started)
        return response


def scrape(request: HttpRequest) -> HttpResponse:
    verdict = access(request.headers.get("Authorization", ""), token=settings.METRICS_TOKEN,
                     public=settings.METRICS_PUBLIC)
    if verdict == HTTPStatus.NOT_FOUND:
        raise Http404  # answered as any unknown address is
    if verdict == HTTPStatus.UNAUTHORIZED:
        return HttpResponse("A bearer token is required.\n", status=verdict, content_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
    return exposition_view()(request)


@cache
def exposition_view() -> Callable[[HttpRequest], HttpResponse]:
    """prometheus_client's view (text or OpenMetrics as the scraper asks, gzip, `name[]` filters)."""
    from prometheus_client.django import PrometheusDjangoView

    return PrometheusDjangoView.as_view(registry=registry())


@cache
def registry() -> CollectorRegistry:
    """What a scrape shows: every process's values merged (multiprocess mode) or this process's, and
    the queues' depth read from the broker at the time."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    metrics = recorded()
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # as prometheus_client saw it when imported
        MultiProcessCollector(registry)
    else:
        for metric in (metrics.requests, metrics.request_seconds, metrics.jobs, metrics.job_seconds):
            registry.register(metric)
    registry.register(QueueDepthCollector())
    return registry


# Queues

def queue_depths(app=None) -> dict[str, int]:
    """Messages waiting in each queue the Celery app declares (the default queue unless
    CELERY_TASK_QUEUES names others), as the broker tells a passive declare: on Redis the lengths
    of the queue's lists (one per priority, under CELERY_KEY_PREFIX), on the embedded broker its
    message files."""
    if app is None:
        from application_service.celery import app
    depths = {}
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=app.conf.broker_connection_timeout)
        channel = connection.default_channel
        for name in sorted(app.amqp.queues):
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except ChannelError:  # Redis keeps no key for an empty queue
                depths[name] = 0
    return depths


class QueueDepthCollector:
    """celery_queue_depth{queue}, read when scraped. With the broker away the scrape still answers,
    without this gauge, and the reason is logged."""

    def __init__(self, app=None) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            depths = queue_depths(self.app)
        except Exception as exc:  # any broker failure: the other metrics still matter
            logger.warning("queue_depth_unavailable", error=f"{type(exc).__name__}: {exc}")
            return
        gauge = GaugeMetricFamily("celery_queue_depth", "Messages waiting in each Celery queue.",
                                  labels=["queue"])
        for name, depth in depths.items():
            gauge.add_metric([name], depth)
        yield gauge


# Jobs: Celery's signals, in the process that runs each job (a pool process); a hard time limit's
# failure is signalled in the worker's main process, which writes its own file too.

started_at: dict[str, float] = {}


def job_started(task_id: str, **kwargs) -> None:
    started_at[task_id] = time.perf_counter()


def job_ended(sender, task_id: str, **kwargs) -> None:
    started = started_at.pop(task_id, None)
    if started is not None:
        recorded().job_seconds.labels(sender.name).observe(time.perf_counter() - started)


def job_succeeded(sender, **kwargs) -> None:
    recorded().jobs.labels(sender.name, "succeeded").inc()


def job_failed(sender, **kwargs) -> None:
    recorded().jobs.labels(sender.name, "failed").inc()


def job_retried(sender, **kwargs) -> None:
    recorded().jobs.labels(sender.name, "retried").inc()


def connect_job_signals() -> None:
    """Count and time jobs in this process and the processes it forks from now on."""
    for signal, receiver in ((task_prerun, job_started), (task_postrun, job_ended),
                             (task_success, job_succeeded), (task_failure, job_failed),
                             (task_retry, job_retried)):
        signal.connect(receiver, weak=False, dispatch_uid=f"metrics.{receiver.__name__}")


# The worker's endpoint

class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # a line per scrape says nothing
        pass


def worker_exposition(environ: dict, start_response: Callable) -> list[bytes]:
    """The worker's WSGI application: the registry at METRICS_PATH, with the web's token rule."""
    verdict = HTTPStatus.NOT_FOUND
    if environ.get("PATH_INFO", "") in metrics_paths():
        verdict = access(environ.get("HTTP_AUTHORIZATION", ""), token=settings.METRICS_TOKEN,
                         public=settings.METRICS_PUBLIC)
    if verdict == HTTPStatus.OK:
        return exposition_app()(environ, start_response)
    headers = [("Content-Type", "text/plain")]
    if verdict == HTTPStatus.UNAUTHORIZED:
        headers.append(("WWW-Authenticate", "Bearer"))
    start_response(f"{verdict.value} {verdict.phrase}", headers)
    return [f"{verdict.phrase}\n".encode()]


@cache
def exposition_app() -> Callable:
    from prometheus_client import make_wsgi_app

    return make_wsgi_app(registry())


def serve(address: str, port: int):
    """The job metrics, counted from now on, served on address:port by a thread of this process."""
    from prometheus_client.exposition import ThreadingWSGIServer

    connect_job_signals()
    server = make_server(address, port, worker_exposition, ThreadingWSGIServer, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics_serving", address=address, port=port, path=settings.METRICS_PATH)
    return server
