"""Liveness (/healthz) and readiness (/readyz) for load balancers and orchestrators.

The middleware comes first in MIDDLEWARE after the request log's (which gives every request its
id), so a probe is answered before ALLOWED_HOSTS is validated (a load balancer probes by the
instance's IP) and before the HTTPS redirect (it probes over plain HTTP). /healthz touches no
dependency. /readyz checks each one and answers 503 naming the ones that fail, and nothing more:
anyone can ask, so what went wrong (hosts, addresses, users, migration names) goes to the log.
Its result is kept for READINESS_CACHE_SECONDS in each process, so a flood of probes costs one
round of checks per process per window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

LIVENESS_PATHS = {"/healthz", "/healthz/"}
READINESS_PATHS = {"/readyz", "/readyz/"}


def check_database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    if settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        # Ask the server itself: the cache ignores Redis errors by design (it degrades).
        cache.client.get_client(write=False).ping()


def check_broker() -> None:
    from application_service.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_TIMEOUT)
        client = getattr(connection.default_channel, "client", None)
        if client is not None:  # Redis: ask the server, a TCP accept is not an answer
            client.ping()


def check_migrations() -> None:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in pending[:5])
        raise RuntimeError(f"{len(pending)} unapplied: {names}")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "migrations": check_migrations,
}


def failing_checks() -> list[str]:
    """Run every check; the names of those that fail, each failure logged with its exception."""
    failing = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure of a dependency is a not-ready answer
            logger.warning("Readiness: the %s check failed: %s: %s", name, type(exc).__name__, exc,
                           exc_info=exc)
            failing.append(name)
    return failing


class ReadinessCache:
    """The last round's failing checks, reused for `seconds` after it ended (0: never reused).

    One round at a time per process: probes arriving during a round wait for its result.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.failing: list[str] | None = None
        self.expires = 0.0

    def get(self, seconds: float, run: Callable[[], list[str]]) -> list[str]:
        with self.lock:
            if self.failing is None or self.clock() >= self.expires:
                self.failing = run()
                self.expires = self.clock() + seconds
            return list(self.failing)


readiness_cache = ReadinessCache()


def versioned(response: HttpResponse) -> HttpResponse:
    """The running version in a header too: a load balancer's answer shows which version served it."""
    response["X-App-Version"] = settings.APP_VERSION
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return versioned(JsonResponse({"status": "ok", "version": settings.APP_VERSION}))


def readyz(request: HttpRequest) -> HttpResponse:
    failing = readiness_cache.get(settings.READINESS_CACHE_SECONDS, failing_checks)
    body = {"status": "unavailable" if failing else "ok", "version": settings.APP_VERSION,
            "failing": failing}
    return versioned(JsonResponse(body, status=503 if failing else 200))


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in LIVENESS_PATHS:
            return healthz(request)
        if request.path in READINESS_PATHS:
            return readyz(request)
        return self.get_response(request)
