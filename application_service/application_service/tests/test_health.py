import logging

import pytest
from django.db import connections
from django.test import override_settings

from application_service import health

pytestmark = pytest.mark.django_db

# What a failing dependency's exception says: fine in the log, never in the public answer.
LEAK = "(2005, \"Unknown server host 'db.internal.example' as app_user@10.0.3.7\")"


@pytest.fixture(autouse=True)
def fresh_readiness():
    """Each test starts without a remembered readiness answer (it is kept per process)."""
    health.readiness_cache.clear()
    yield
    health.readiness_cache.clear()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counted_checks(monkeypatch) -> dict[str, int]:
    """Every check replaced by one that counts its calls (and passes)."""
    calls = dict.fromkeys(health.CHECKS, 0)

    def counting(name):
        def check():
            calls[name] += 1
        return check

    for name in calls:
        monkeypatch.setitem(health.CHECKS, name, counting(name))
    return calls


def test_healthz_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "unknown"}  # no APP_VERSION here


def test_readyz_checks_each_dependency_and_answers_status_version_and_failing_only(client):
    assert set(health.CHECKS) == {"database", "cache", "broker", "migrations"}
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "version": "unknown", "failing": []}


@override_settings(ALLOWED_HOSTS=["service.example.com"], SECURE_SSL_REDIRECT=True)
def test_probes_pass_host_validation_and_https_redirect(client):
    # A load balancer probes the instance address over plain HTTP.
    assert client.get("/healthz", HTTP_HOST="10.0.3.7").status_code == 200
    assert client.get("/readyz/", HTTP_HOST="10.0.3.7").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.3.7").status_code == 400  # the rest stays protected
    redirect = client.get("/", HTTP_HOST="service.example.com")
    assert redirect.status_code == 301 and redirect["Location"].startswith("https://")


def test_readyz_is_503_naming_the_failing_check_while_the_log_says_why(client, monkeypatch, caplog):
    def broken():
        raise ConnectionError(LEAK)

    monkeypatch.setitem(health.CHECKS, "database", broken)
    with caplog.at_level(logging.WARNING, logger="application_service.health"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "version": "unknown", "failing": ["database"]}
    for secret in ("db.internal.example", "app_user", "10.0.3.7", "2005"):
        assert secret not in response.content.decode()
    [record] = [record for record in caplog.records if record.name == "application_service.health"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"Readiness: the database check failed: ConnectionError: {LEAK}"
    assert record.exc_info[1].args == (LEAK,)  # the traceback goes with it
    assert connections["default"].is_usable()


def test_unapplied_migrations_are_named_in_the_log_only(client, monkeypatch, caplog):
    class Migration:
        app_label, name = "accounts", "0042_secret_plans"

    class Executor:
        def __init__(self, connection):
            self.loader = type("Loader", (), {"graph": type("Graph", (), {"leaf_nodes": list})()})()

        def migration_plan(self, targets):
            return [(Migration(), False)]

    monkeypatch.setattr(health, "MigrationExecutor", Executor)
    with caplog.at_level(logging.WARNING, logger="application_service.health"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert "0042_secret_plans" not in response.content.decode()
    assert "1 unapplied: accounts.0042_secret_plans" in caplog.text


def test_a_flood_of_probes_costs_one_round_of_checks_per_window(client, counted_checks, monkeypatch,
                                                                 settings):
    settings.READINESS_CACHE_SECONDS = 5
    clock = Clock()
    monkeypatch.setattr(health.readiness_cache, "clock", clock)
    for _ in range(50):
        assert client.get("/readyz").status_code == 200
    assert counted_checks == {"database": 1, "cache": 1, "broker": 1, "migrations": 1}

    clock.now += 4.9  # still within the window: the remembered answer
    client.get("/readyz/")
    assert set(counted_checks.values()) == {1}
    clock.now += 0.2  # past it: one new round
    for _ in range(10):
        client.get("/readyz")
    assert counted_checks == {"database": 2, "cache": 2, "broker": 2, "migrations": 2}


def test_a_failure_is_remembered_for_the_window_too(client, monkeypatch, settings):
    settings.READINESS_CACHE_SECONDS = 5
    clock = Clock()
    monkeypatch.setattr(health.readiness_cache, "clock", clock)
    calls = []

    def broken():
        calls.append(1)
        raise ConnectionError("redis down")

    monkeypatch.setitem(health.CHECKS, "cache", broken)
    answers = {client.get("/readyz").status_code for _ in range(20)}
    assert answers == {503} and len(calls) == 1
    monkeypatch.setitem(health.CHECKS, "cache", lambda: None)  # Redis is back...
    assert client.get("/readyz").status_code == 503  # ...seen when the window ends
    clock.now += 5
    assert client.get("/readyz").status_code == 200


def test_readiness_cache_seconds_0_checks_on_every_probe(client, counted_checks, settings):
    settings.READINESS_CACHE_SECONDS = 0
    for _ in range(3):
        client.get("/readyz")
    assert set(counted_checks.values()) == {3}


def test_the_probes_report_the_running_version(client, settings):
    settings.APP_VERSION = "0123456789ab"
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.json()["version"] == response["X-App-Version"] == "0123456789ab"
