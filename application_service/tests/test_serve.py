"""The real thing: `invoke serve` (gunicorn) against MariaDB and Redis, over HTTP."""

import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from ops.testing import REPOSITORY, free_port, http_get, invoke, mysql_admin_connection, serving

pytestmark = pytest.mark.integration

COUNT = re.compile(r'<p id="count">(\d+)</p>')


def count_of(response) -> int:
    assert response.status == 200, response.body
    assert "Hello, World" in response.body
    return int(COUNT.search(response.body).group(1))


@pytest.fixture(scope="module")
def server(service_database, tmp_path_factory):
    env = {**service_database, "APP_VERSION": "0123456789ab"}  # as the image's build sets it
    with serving(env, tmp_path_factory.mktemp("serve"), workers=4) as running:
        yield running


def test_page_counter_and_probes(server):
    first = count_of(http_get(server.url("/")))
    second = count_of(http_get(server.url("/")))
    assert second == first + 1

    alive = http_get(server.url("/healthz"))
    assert (alive.status, alive.json()) == (200, {"status": "ok", "version": "0123456789ab"})
    ready = http_get(server.url("/readyz"))
    assert ready.status == 200, ready.body
    # The version that answered, for a deploy's gate behind a load balancer.
    assert ready.json()["version"] == "0123456789ab"
    assert alive.headers["X-App-Version"] == ready.headers["X-App-Version"] == "0123456789ab"
    # ... as the deploy's gate reads it
    from ops.aws.deploy import read_version
    from ops.aws.rollout import Answer

    assert read_version(server.url("/"), timeout=5) == Answer(200, "0123456789ab")
    # Status, version and what fails: all a load balancer or an operator needs from outside.
    assert ready.json() == {"status": "ok", "version": "0123456789ab", "failing": []}
    # A load balancer probing by address: not blocked by ALLOWED_HOSTS; other paths are.
    assert http_get(server.url("/healthz"), headers={"Host": "10.0.0.9"}).status == 200
    assert http_get(server.url("/readyz"), headers={"Host": "10.0.0.9"}).status == 200
    assert http_get(server.url("/"), headers={"Host": "10.0.0.9"}).status == 400
    # One line per request, in the service's format (gunicorn's access log is off).
    assert any(line.startswith("{") and '"request_finished"' in line and '"path": "/"' in line
               for line in server.output().splitlines())


def test_2000_requests_from_32_clients_raise_the_count_by_exactly_2000(server):
    start = count_of(http_get(server.url("/")))
    with ThreadPoolExecutor(max_workers=32) as pool:
        counts = list(pool.map(lambda _: count_of(http_get(server.url("/"), timeout=30)), range(2000)))
    # Every request saw its own value: no two alike, none lost.
    assert sorted(counts) == list(range(start + 1, start + 2001))
    assert count_of(http_get(server.url("/"))) == start + 2001


def test_requests_survive_dropped_database_connections(server, service_database, mysql_url):
    """What a database restart does to persistent connections: the server side goes away.

    With health checks each worker replaces its dead connection before using it; without
    them the first request of every worker after the restart is a 500.
    """
    for _ in range(40):  # every worker holds a persistent connection now
        count_of(http_get(server.url("/")))
    log_before = len(server.output())
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    admin = mysql_admin_connection(mysql_url)
    try:
        cursor = admin.cursor()
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST "
                       "WHERE DB = %s AND ID <> CONNECTION_ID()", [name])
        ids = [row[0] for row in cursor.fetchall()]
        assert ids, "the workers hold no persistent connection"
        for connection_id in ids:
            cursor.execute(f"KILL {int(connection_id)}")
    finally:
        admin.close()
    statuses = [http_get(server.url("/")).status for _ in range(40)]
    assert statuses == [200] * 40
    assert "OperationalError" not in server.output()[log_before:]


def test_createsuperuser_task(service_database, mysql_url):
    username = f"admin_{uuid.uuid4().hex[:6]}"
    env = {**service_database, "DJANGO_SUPERUSER_PASSWORD": "a-long-test-password-123"}
    invoke("createsuperuser", "--username", username, "--email", f"{username}@example.com",
           env=env, check=True)
    admin = mysql_admin_connection(mysql_url)
    try:
        cursor = admin.cursor()
        name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
        cursor.execute(f"SELECT is_superuser, is_staff, password FROM `{name}`.accounts_user "
                       "WHERE username = %s", [username])
        is_superuser, is_staff, password = cursor.fetchone()
    finally:
        admin.close()
    assert (is_superuser, is_staff) == (1, 1)
    assert "a-long-test-password-123" not in password  # stored as a hash
    again = invoke("createsuperuser", "--username", username, "--email", "x@example.com", env=env)
    assert again.returncode != 0 and "already taken" in again.stderr
    assert "Traceback" not in again.stderr


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(service_database, tmp_path):
    env = {**service_database, "DATABASE_URL": f"mysql://root@127.0.0.1:{free_port()}/gone"}
    with serving(env, tmp_path, workers=1) as down:
        ready = http_get(down.url("/readyz"))
        assert ready.status == 503
        body = ready.json()
        assert body["status"] == "unavailable" and "database" in body["failing"]
        assert "cache" not in body["failing"]
        # Why is for the operator, in the log; strangers learn no address, port or user.
        assert "Can't connect" not in ready.body and "127.0.0.1" not in ready.body
        assert "Readiness: the database check failed" in down.output()
        assert "Can't connect" in down.output()
        assert http_get(down.url("/healthz")).status == 200


def test_production_settings_refuse_to_start_naming_what_is_missing():
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "production", "ALLOWED_HOSTS": "example.com"}
    result = subprocess.run([sys.executable, str(REPOSITORY / "application_service" / "manage.py"),
                             "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "SECRET_KEY, DATABASE_URL, REDIS_URL, NUM_PROXIES are not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_lint_passes_including_check_deploy_under_production():
    result = invoke("lint", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("module", ["application_service.wsgi", "ops.bench.references.wsgi"])
def test_the_wsgi_entry_points_freeze_what_loading_made(module, tmp_path):
    """The garbage collector then leaves the loaded modules alone in every request's collections."""
    probe = f"import gc, {module}; print(gc.get_freeze_count())"
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "local", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
           "PYTHONPATH": str(REPOSITORY)}  # the bench's references live in ops/ at the top
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY / "application_service",
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 10_000  # Django's and the project's objects, not a handful
