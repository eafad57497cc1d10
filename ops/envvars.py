"""Resolve `--env NAME` into the variables every command of that environment runs with."""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from application_service import database, environments
from application_service.environments import ConfigurationError
from ops.errors import UserError

REPOSITORY = environments.REPOSITORY
PROJECT_DIR = REPOSITORY / "application_service"
REPORTS_DIR = REPOSITORY / "reports"
PYTHON = sys.executable


@dataclass(frozen=True)
class Environment:
    name: str
    variables: dict[str, str] = field(repr=False)

    def get(self, key: str, default: str = "") -> str:
        return self.variables.get(key) or default

    @property
    def settings_module(self) -> str:
        return environments.settings_module(self.name)

    @property
    def database_url(self) -> str:
        return (database.url_from_environment(self.variables)
                or f"sqlite:///{PROJECT_DIR / 'db.sqlite3'}")

    @property
    def redis_url(self) -> str:
        """REDIS_URL, with REDIS_PASSWORD in it when that is set apart (as the settings read it)."""
        try:
            return environments.redis_url(self.variables)
        except ConfigurationError:
            return self.get("REDIS_URL")  # backing_services names the mistake

    @property
    def embedded_broker_dir(self) -> str:
        """Where the embedded (file system) broker keeps its state; empty when Redis is the broker."""
        if self.redis_url:
            return ""
        return self.get("CELERY_FILESYSTEM_DIR", str(PROJECT_DIR / "var" / "celery"))

    @property
    def strict(self) -> bool:
        """ci and production: every configured service is required; nothing is skipped."""
        return self.name != "local"

    def require(self) -> None:
        """Fail with the names of required settings that are missing."""
        try:
            environments.require(self.name, self.variables)
        except ConfigurationError as exc:
            raise UserError(str(exc)) from None

    def with_variables(self, **variables: str) -> Environment:
        return Environment(self.name, {**self.variables, **variables})


def resolve(name: str | None, base: dict[str, str] | None = None) -> Environment:
    """The environment called `name` (default: APP_ENV, else ci when CI=true, else local)."""
    variables = dict(os.environ if base is None else base)
    chosen = name or environments.default_name(variables)
    try:
        environments.check_name(chosen)
    except ConfigurationError as exc:
        raise UserError(str(exc)) from None
    environments.load(chosen, variables)
    variables["APP_ENV"] = chosen
    variables["DJANGO_SETTINGS_MODULE"] = environments.settings_module(chosen)
    # The project directory first, so `python -c`, pytest and gunicorn import the same code.
    variables["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT_DIR), variables.get("PYTHONPATH", "")) if part
    )
    return Environment(chosen, variables)


# What `check --deploy` needs to judge production's settings when the real values are not set
# here: stand-ins, never deployed (the secret key is random on every call).
DEPLOY_CHECK_STAND_INS = {
    "ALLOWED_HOSTS": "service.example.com",
    "DATABASE_URL": "mysql://lint@127.0.0.1:3306/lint",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "NUM_PROXIES": "1",
}


def deploy_check_environment(production: Environment) -> Environment:
    """Production with a stand-in for each required setting that is not set."""
    stand_ins = {**DEPLOY_CHECK_STAND_INS, "SECRET_KEY": secrets.token_urlsafe(50)}
    return production.with_variables(
        **{key: value for key, value in stand_ins.items() if not production.get(key)}
    )


def superuser_environment(environment: Environment, *, username: str, email: str,
                          password: str | None) -> Environment:
    """The variables of `createsuperuser --noinput`; the password from the option, else from
    DJANGO_SUPERUSER_PASSWORD; UserError when there is none."""
    password = password or environment.get("DJANGO_SUPERUSER_PASSWORD")
    if not password:
        raise UserError("No password given: pass --password or set DJANGO_SUPERUSER_PASSWORD.")
    return environment.with_variables(
        DJANGO_SUPERUSER_USERNAME=username,
        DJANGO_SUPERUSER_EMAIL=email,
        DJANGO_SUPERUSER_PASSWORD=password,
    )


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPOSITORY))
    except ValueError:
        return str(path)
