"""The platform stands alone: in a copy of the project without the sample app (gone from
INSTALLED_APPS, the urls and the disk) and with a second app of its own, the production settings
pass `check --deploy`, migrate, serve the probes, the admin and the API schema under gunicorn, and
the second app's shared job runs on a real worker through the project's Celery app."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from ops.testing import (
    REPOSITORY,
    free_port,
    http_get,
    mysql_admin_connection,
    stop,
    wait_for_text,
)

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

SAMPLE_SETTING = '    "application",\n'
SAMPLE_URLS = ('    path("", include("application.api.urls")),\n',
               '    path("", include("application.urls")),\n')

NOTES_JOBS = '''
from celery import shared_task


@shared_task(ignore_result=False)
def shout(text: str) -> str:
    return text.upper()
'''


def without(text: str, line: str) -> str:
    assert line in text, f"the project no longer has {line.strip()!r}: update this test"
    return text.replace(line, "", 1)


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project: the sample app removed, an app `notes` with one job added."""
    copy = tmp_path / "repository"
    shutil.copytree(REPOSITORY / "env", copy / "env")
    shutil.copytree(REPOSITORY / "application_service", copy / "application_service",
                    ignore=shutil.ignore_patterns("application", "tests", "__pycache__", "var",
                                                  "db.sqlite3", "staticfiles", "conftest.py"))
    package = copy / "application_service" / "application_service"
    base = package / "environments" / "base.py"
    base.write_text(without(base.read_text(), SAMPLE_SETTING)
                    .replace('    "accounts",\n', '    "accounts",\n    "notes",\n', 1))
    urls = package / "urls.py"
    text = urls.read_text()
    for line in SAMPLE_URLS:
        text = without(text, line)
    urls.write_text(text)
    notes = copy / "application_service" / "notes"
    notes.mkdir()
    (notes / "__init__.py").write_text("")
    (notes / "jobs.py").write_text(textwrap.dedent(NOTES_JOBS))
    assert not (copy / "application_service" / "application").exists()
    return copy


@pytest.fixture
def production_env(project, mysql_url, redis_url):
    name = f"little_service_alone_{uuid.uuid4().hex[:8]}"
    admin = mysql_admin_connection(mysql_url)
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    prefix = f"alone-{uuid.uuid4().hex[:8]}:"
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "application_service.environments.production",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "NUM_PROXIES": "0",
        "DATABASE_URL": mysql_url + name,
        "REDIS_URL": redis_url,
        "CELERY_KEY_PREFIX": prefix,
        "CACHE_KEY_PREFIX": f"{prefix}cache",
    }
    try:
        yield env
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def manage(project: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "manage.py", *arguments], cwd=project / "application_service",
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"manage.py {' '.join(arguments)}:\n{result.stdout}\n{result.stderr}"
    return result


def background(project: Path, env: dict[str, str], argv: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(argv, cwd=project / "application_service", env=env, stdout=handle,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def test_the_platform_runs_without_the_sample_app(project, production_env, tmp_path):
    env = production_env
    manage(project, env, "check", "--deploy", "--fail-level", "WARNING")
    manage(project, env, "collectstatic", "--noinput", "--verbosity", "0")  # as the image's build does
    migrated = manage(project, env, "migrate", "--noinput").stdout
    assert "accounts.0001_initial" in migrated or "Applying accounts.0001_initial" in migrated
    assert "application" not in manage(project, env, "showmigrations", "--list").stdout

    port = free_port()
    server = background(project, env, [sys.executable, "-m", "gunicorn",
                                       "application_service.wsgi:application",
                                       "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                        tmp_path / "gunicorn.log")
    worker = background(project, env, [sys.executable, "-m", "celery", "--app", "application_service",
                                       "worker", "--concurrency", "1", "--loglevel", "INFO"],
                        tmp_path / "worker.log")
    try:
        wait_for_text(tmp_path / "gunicorn.log", "Booting worker", process=server)
        url = f"http://127.0.0.1:{port}"
        https = {"X-Forwarded-Proto": "https"}  # as the load balancer says
        assert http_get(f"{url}/healthz").status == 200
        ready = http_get(f"{url}/readyz")
        assert ready.status == 200, ready.body
        assert http_get(f"{url}/admin/login/", headers=https).status == 200
        # Production serves the schema to signed-in users only (API_DOCS_PUBLIC); its content:
        schema = http_get(f"{url}/api/schema/", headers={**https, "Accept": "application/json"})
        assert schema.status == 401, schema.body
        schema = manage(project, env, "spectacular", "--format", "openapi-json").stdout
        assert "/api/v1/auth/token/" in schema and "/messages/" not in schema
        assert http_get(f"{url}/", headers=https).status == 404  # the counter page went with its app

        wait_for_text(tmp_path / "worker.log", "ready.", process=worker)
        assert "notes.jobs.shout" in (tmp_path / "worker.log").read_text()
        shouted = manage(project, env, "shell", "-c",
                         "from notes.jobs import shout; print(shout.delay('hello').get(timeout=30))")
        assert shouted.stdout.strip().splitlines()[-1] == "HELLO"
    finally:
        stop(server)
        stop(worker)
