import pytest
from django.db import connections
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "unknown"}  # no APP_VERSION here


def test_readyz_names_each_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "broker", "migrations"}
    assert body["checks"]["migrations"]["detail"] == "applied"


@override_settings(ALLOWED_HOSTS=["service.example.com"], SECURE_SSL_REDIRECT=True)
def test_probes_pass_host_validation_and_https_redirect(client):
    # A load balancer probes the instance address over plain HTTP.
    assert client.get("/healthz", HTTP_HOST="10.0.3.7").status_code == 200
    assert client.get("/readyz/", HTTP_HOST="10.0.3.7").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.3.7").status_code == 400  # the rest stays protected
    redirect = client.get("/", HTTP_HOST="service.example.com")
    assert redirect.status_code == 301 and redirect["Location"].startswith("https://")


def test_readyz_is_503_and_names_the_failing_check(client, monkeypatch):
    from application_service import health

    def broken():
        raise ConnectionError("redis down")

    monkeypatch.setitem(health.CHECKS, "cache", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]
    assert response.json()["checks"]["cache"]["error"] == "ConnectionError: redis down"
    assert connections["default"].is_usable()


def test_the_probes_report_the_running_version(client, settings):
    settings.APP_VERSION = "0123456789ab"
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.json()["version"] == response["X-App-Version"] == "0123456789ab"
