"""Each entry point pins its settings: the servers' (WSGI, ASGI, the Celery app) never fall back
to local settings, while manage.py, a developer's tool, starts local."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ops.testing import REPOSITORY

PROJECT = REPOSITORY / "application_service"
SETTINGS_OF = "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"


def run(code: str, **variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in {"APP_ENV", "DJANGO_SETTINGS_MODULE", "CI", "SECRET_KEY", "ALLOWED_HOSTS",
                          "DATABASE_URL", "REDIS_URL", "DEBUG"}}
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env={**env, **variables},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("entry_point", [
    "import application_service.wsgi",
    "import application_service.asgi",
    f"import application_service.celery; {SETTINGS_OF}",
])
def test_servers_named_no_environment_run_production_which_refuses_without_secrets(entry_point):
    result = run(entry_point)
    assert result.returncode != 0
    assert ("The production environment cannot start: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, "
            "REDIS_URL are not set") in result.stderr


def test_servers_start_production_when_its_settings_are_given():
    result = run(f"import application_service.celery; {SETTINGS_OF}", SECRET_KEY="k" * 50,
                 ALLOWED_HOSTS="example.com", DATABASE_URL="mysql://u@127.0.0.1/d",
                 REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["application_service.environments.production", "False"]


def test_an_environment_named_by_app_env_is_the_one_they_run():
    result = run(f"import application_service.celery; {SETTINGS_OF}", APP_ENV="local")
    assert result.stdout.split() == ["application_service.environments.local", "True"]


def test_manage_py_named_no_environment_runs_local():
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETTINGS_OF], cwd=PROJECT,
                            env={key: value for key, value in os.environ.items()
                                 if key not in {"APP_ENV", "DJANGO_SETTINGS_MODULE", "DEBUG"}},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["application_service.environments.local", "True"]
