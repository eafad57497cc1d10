"""Project-wide test configuration: in ci a skipped test fails, and real services are found here."""

from __future__ import annotations

import os
import uuid

import pytest

from application_service import database
from ops import testing as support
from ops.testing import mysql_admin_connection, mysql_server_url, redis_server_url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and support.strict() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in ci, where every test must run: {reason}"


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """The server URL (no database) of a reachable MySQL; skips (fails in ci) without one."""
    url = mysql_server_url()
    try:
        mysql_admin_connection(url).close()
    except Exception as exc:
        pytest.skip(f"MySQL is not reachable at {database.redact(url)}: {exc}")
    return url


@pytest.fixture
def require_mysql() -> None:
    """Skips (fails in ci) unless Django's database is MySQL: for what SQLite does not have
    (row locks, strict mode, utf8mb4)."""
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip("needs MySQL (run with --env ci or DATABASE_URL=mysql://...)")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = redis_server_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"Redis is not reachable at {database.redact(url)}: {exc}")
    return url


@pytest.fixture(scope="session")
def service_database(mysql_url, redis_url):
    """A fresh MySQL database made by `invoke db.create` and `invoke migrate`, dropped afterwards.

    Yields the environment variables for processes that should use it.
    """
    name = f"little_service_it_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env["DATABASE_URL"] = mysql_url + name
    env["REDIS_URL"] = redis_url
    env.pop("DJANGO_SETTINGS_MODULE", None)
    support.invoke("db.create", env=env, check=True)
    support.invoke("migrate", env=env, check=True)
    yield env
    connection = mysql_admin_connection(mysql_url)
    try:
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """A test database name of this run's own, so concurrent runs on one server never collide."""
    from django.conf import settings

    for config in settings.DATABASES.values():
        if config["ENGINE"] == database.MYSQL_ENGINE:
            test = config.setdefault("TEST", {})
            test["NAME"] = f"{test.get('NAME') or 'test_' + config['NAME']}_{os.getpid()}"


@pytest.fixture(scope="session")
def moto_server():
    """moto in server mode on 127.0.0.1: the AWS endpoint of the AWS tests (boto3 reaches it through
    AWS_ENDPOINT_URL, as it would reach AWS). Started once; `aws` below resets it for each test."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch) -> dict[str, str]:
    """A fresh moto account for this test, in this process and in the variables returned for
    processes it starts (`invoke aws.bootstrap ...`)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"),
                           timeout=10).close()
    variables = {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto's: any value is accepted
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **variables}
