"""Every answer of production's settings carries the browser's protections: a page, the admin
and the API alike."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

from ops.testing import REPOSITORY

pytestmark = pytest.mark.django_db

HOST = "service.example.com"
# What production's settings module reads from the process environment (no connection is made).
PRODUCTION_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "application_service.environments.production",
    "SECRET_KEY": "production-like-key-for-the-header-tests-0123456789-abcdefghij",
    "ALLOWED_HOSTS": HOST,
    "DATABASE_URL": "mysql://service@127.0.0.1:3306/service",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "NUM_PROXIES": "1",  # behind the load balancer, which says https in X-Forwarded-Proto
}
# Where production differs by its infrastructure, not by what it tells browsers: kept as the tests run.
INFRASTRUCTURE = {"DATABASES", "DATABASE_URL", "CACHES", "REDIS_URL", "STORAGES", "STATIC_ROOT",
                  "STATICFILES_DIRS", "WHITENOISE_USE_FINDERS", "SECRET_KEY", "SETTINGS_MODULE",
                  "LOGGING", "PASSWORD_HASHERS"}
READ_SETTINGS = """
import pickle, sys
from django.conf import settings
values = {}
for name in dir(settings):
    if name.isupper():
        try:
            values[name] = pickle.dumps(getattr(settings, name))
        except Exception:
            pass
sys.stdout.buffer.write(pickle.dumps(values))
"""


@pytest.fixture(scope="module")
def production_values() -> dict[str, object]:
    """Production's settings as its module computes them, in a process of their own."""
    environ = {key: value for key, value in os.environ.items()
               if key not in {"APP_ENV", "CI", "DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT",
                              "SECURE_HSTS_SECONDS", "API_DOCS_PUBLIC", "ADMIN_URL"}}
    result = subprocess.run([sys.executable, "-c", READ_SETTINGS], cwd=REPOSITORY / "application_service",
                            env={**environ, **PRODUCTION_ENVIRONMENT}, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return {name: pickle.loads(value) for name, value in pickle.loads(result.stdout).items()}  # noqa: S301


@pytest.fixture
def production(settings, production_values):
    """This process runs with production's settings, but for its database, cache and static files."""
    for name, value in production_values.items():
        infrastructure = name in INFRASTRUCTURE or name.startswith("CELERY_")
        if not infrastructure and getattr(settings, name, None) != value:
            setattr(settings, name, value)
    assert settings.DEBUG is False and settings.SECURE_SSL_REDIRECT is True
    return settings


def https(client, path: str):
    return client.get(path, HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")


def assert_protected(response) -> None:
    assert response["Strict-Transport-Security"].startswith("max-age=")
    assert int(response["Strict-Transport-Security"].split("=")[1].split(";")[0]) > 0
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    directives = response["Content-Security-Policy"].split(";")
    policy = dict(directive.strip().split(" ", 1) for directive in directives)
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    for directive in ("script-src", "style-src"):
        assert policy[directive].startswith("'self'")
        assert "'unsafe-inline'" not in policy[directive] and "'unsafe-eval'" not in policy[directive]


def test_a_page_the_admin_and_the_api_carry_every_header(client, admin_client, production):
    answers = {
        "the counter page": https(client, "/"),
        "the login page": https(client, "/accounts/login/"),
        "the admin's login": https(client, "/admin/login/"),
        "the admin": https(admin_client, "/admin/"),
        "the API": https(client, "/api/v1/counter/"),
        "the API's 404": https(client, "/api/v1/nothing-here/"),
        "the docs, signed in": https(admin_client, "/api/docs/"),
    }
    for name, response in answers.items():
        assert response.status_code in {200, 404}, (name, response.status_code)
        assert_protected(response)
    assert answers["the API's 404"].status_code == 404


def test_production_keeps_the_schema_for_signed_in_users(client, admin_client, production):
    assert production.API_DOCS_PUBLIC is False
    assert https(client, "/api/schema/").status_code == 401
    assert https(client, "/api/docs/")["Location"] == "/accounts/login/?next=/api/docs/"
    assert https(admin_client, "/api/schema/").status_code == 200


def test_plain_http_is_sent_to_https_and_a_probe_is_not(client, production):
    redirect = client.get("/", HTTP_HOST=HOST)
    assert redirect.status_code == 301 and redirect["Location"] == f"https://{HOST}/"
    assert client.get("/healthz", HTTP_HOST="10.0.3.7").status_code == 200  # the load balancer's probe
