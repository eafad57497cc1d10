"""Liveness (/healthz) and readiness (/readyz) for load balancers and orchestrators.

The middleware sits first in MIDDLEWARE, so a probe is answered before ALLOWED_HOSTS is
validated (a load balancer probes by the instance's IP) and before the HTTPS redirect (it
probes over plain HTTP). /healthz touches no dependency; /readyz checks each one and answers
503 naming the ones that fail.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

LIVENESS_PATHS = {"/healthz", "/healthz/"}
READINESS_PATHS = {"/readyz", "/readyz/"}


def check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connections[DEFAULT_DB_ALIAS].vendor


def check_cache() -> str:
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.startswith("django_redis"):
        # Ask the server itself: the cache ignores Redis errors by design (it degrades).
        cache.client.get_client(write=False).ping()
        return "redis"
    return backend.rsplit(".", 1)[-1]


def check_broker() -> str:
    from application_service.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_TIMEOUT)
        client = getattr(connection.default_channel, "client", None)
        if client is not None:  # Redis: ask the server, a TCP accept is not an answer
            client.ping()
        return connection.transport_cls


def check_migrations() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in pending[:5])
        raise RuntimeError(f"{len(pending)} unapplied: {names}")
    return "applied"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "migrations": check_migrations,
}


def readiness() -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = {"ok": True, "detail": check()}
        except Exception as exc:  # any failure of a dependency is a not-ready answer
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return all(result["ok"] for result in results.values()), results


def versioned(response: HttpResponse) -> HttpResponse:
    """The running version in a header too: a load balancer's answer shows which version served it."""
    response["X-App-Version"] = settings.APP_VERSION
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return versioned(JsonResponse({"status": "ok", "version": settings.APP_VERSION}))


def readyz(request: HttpRequest) -> HttpResponse:
    ready, checks = readiness()
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if ready else "unavailable", "version": settings.APP_VERSION,
            "failing": failing, "checks": checks}
    return versioned(JsonResponse(body, status=200 if ready else 503))


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in LIVENESS_PATHS:
            return healthz(request)
        if request.path in READINESS_PATHS:
            return readyz(request)
        return self.get_response(request)
