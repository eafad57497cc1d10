"""Each entry point pins its settings: the servers' (WSGI, ASGI, the Celery app) never fall back
to local settings, while manage.py, a developer's tool, starts local."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ops.testing import REPOSITORY

PROJECT = REPOSITORY / "application_service"
KEY = "a-production-key-0123456789-abcdefghijklmnopqrstuvwxyz"
SETTINGS_OF = "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"


def run(code: str, **variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in {"APP_ENV", "DJANGO_SETTINGS_MODULE", "CI", "SECRET_KEY", "ALLOWED_HOSTS",
                          "DATABASE_URL", "REDIS_URL", "DEBUG", "NUM_PROXIES"}}
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
            "REDIS_URL, NUM_PROXIES are not set") in result.stderr


def test_servers_start_production_when_its_settings_are_given():
    result = run(f"import application_service.celery; {SETTINGS_OF}", SECRET_KEY=KEY,
                 ALLOWED_HOSTS="example.com", DATABASE_URL="mysql://u@127.0.0.1/d",
                 REDIS_URL="redis://127.0.0.1:6379/0", NUM_PROXIES="1")
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


@pytest.mark.parametrize(("variables", "named"), [
    ({"SECRET_KEY": "local-development-key-not-for-production-use-0123456789"},
     "SECRET_KEY is one of this template's development keys, which are public"),
    ({"SECRET_KEY": "ci-key-for-tests-only-never-deployed-0123456789abcdef"},
     "SECRET_KEY is one of this template's development keys"),
    ({"SECRET_KEY": "short-key"}, "SECRET_KEY is too short or too plain (9 characters, 9 different)"),
    ({"SECRET_KEY": "k" * 60}, "SECRET_KEY is too short or too plain (60 characters, 1 different)"),
    ({"ALLOWED_HOSTS": "example.com, *"}, "ALLOWED_HOSTS=* accepts any Host header"),
    ({"NUM_PROXIES": "two"}, "NUM_PROXIES=two is not a number of proxies"),
    ({"REDIS_URL": ""}, "REDIS_URL is not set"),
])
def test_production_refuses_unsafe_values_naming_each(variables, named):
    given = {"SECRET_KEY": KEY, "ALLOWED_HOSTS": "example.com", "DATABASE_URL": "mysql://u@127.0.0.1/d",
             "REDIS_URL": "redis://127.0.0.1:6379/0", "NUM_PROXIES": "1", **variables}
    result = run(f"import application_service.celery; {SETTINGS_OF}", **given)
    assert result.returncode != 0
    assert named in result.stderr
    assert "The production environment cannot start:" in result.stderr


def test_every_unsafe_value_is_named_at_once():
    result = run("import application_service.wsgi", SECRET_KEY="short", ALLOWED_HOSTS="*",
                 DATABASE_URL="mysql://u@127.0.0.1/d", NUM_PROXIES="1")
    message = result.stderr.strip().splitlines()[-1]
    for named in ("REDIS_URL is not set", "SECRET_KEY is too short", "ALLOWED_HOSTS=* accepts"):
        assert named in message
