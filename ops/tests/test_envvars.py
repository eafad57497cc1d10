import pytest

from ops.envvars import PROJECT_DIR, resolve
from ops.errors import UserError


def test_resolve_sets_settings_module_app_env_and_pythonpath():
    environment = resolve("ci", {"PATH": "/bin", "DATABASE_URL": "mysql://me@db/x"})
    assert environment.name == "ci"
    assert environment.variables["DJANGO_SETTINGS_MODULE"] == "application_service.environments.ci"
    assert environment.variables["APP_ENV"] == "ci"
    assert environment.variables["PYTHONPATH"].split(":")[0] == str(PROJECT_DIR)
    assert environment.database_url == "mysql://me@db/x"  # the process environment wins
    assert environment.redis_url  # from env/ci.env
    assert environment.strict


def test_default_follows_ci_variable():
    assert resolve(None, {"CI": "true"}).name == "ci"
    assert resolve(None, {}).name == "local"
    assert not resolve(None, {}).strict


def test_unknown_environment_is_a_user_error():
    with pytest.raises(UserError, match="Unknown environment 'prod'"):
        resolve("prod", {})


def test_require_names_missing_production_settings():
    with pytest.raises(UserError, match="SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, NUM_PROXIES are "
                                        "not set"):
        resolve("production", {}).require()
    resolve("production", {"SECRET_KEY": "k0123456789" * 5, "ALLOWED_HOSTS": "h", "DATABASE_URL": "mysql://u@h/d",
                           "REDIS_URL": "redis://h", "NUM_PROXIES": "1"}).require()


def test_local_database_defaults_to_sqlite():
    assert resolve("local", {}).database_url.startswith("sqlite:///")
