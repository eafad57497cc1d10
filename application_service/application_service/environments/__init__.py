"""Which environment runs, and where its settings come from.

One name selects everything: the settings module `application_service.environments.<name>`
and the dotenv file `env/<name>.env`. Precedence, highest first: the process environment,
the git-ignored `.env` at the repository root, `env/<name>.env`, the settings' defaults.
Only the standard library and python-dotenv are used, so tasks can import this without Django.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from dotenv import dotenv_values

REPOSITORY = Path(__file__).resolve().parents[3]
ENVIRONMENTS = ("local", "ci", "production")
DEFAULT = "local"
# Settings that an environment refuses to start without; each has no default there.
REQUIRED = {
    "production": ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"),
}


class ConfigurationError(ValueError):
    """A user-caused configuration problem; its message says what to do."""


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def default_name(environ: Mapping[str, str] = os.environ) -> str:
    """APP_ENV when set; else `ci` when CI=true (CircleCI, CodeBuild and .ci/run set it); else local."""
    if environ.get("APP_ENV"):
        return environ["APP_ENV"]
    return "ci" if truthy(environ.get("CI")) else DEFAULT


def check_name(name: str) -> str:
    if name not in ENVIRONMENTS:
        raise ConfigurationError(
            f"Unknown environment {name!r}. Choose one of: {', '.join(ENVIRONMENTS)} "
            f"(or add application_service/environments/{name}.py and env/{name}.env)."
        )
    return name


REDIS_SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str, name: str = "REDIS_URL") -> str:
    """`url` when it is a Redis URL; else a ConfigurationError that shows how one is written."""
    from urllib.parse import urlsplit

    if url and urlsplit(url).scheme not in REDIS_SCHEMES:
        raise ConfigurationError(
            f"{name} is not a Redis URL (it starts with none of redis://, rediss://, unix://): "
            f"write it as redis://127.0.0.1:6379/0 (rediss:// for TLS, redis://:password@host:6379/0 "
            f"with a password)."
        )
    return url


def settings_module(name: str) -> str:
    return f"application_service.environments.{check_name(name)}"


def dotenv_files(name: str, repository: Path = REPOSITORY) -> list[Path]:
    """The files that feed an environment, highest precedence first."""
    return [repository / ".env", repository / "env" / f"{check_name(name)}.env"]


def values(name: str, environ: Mapping[str, str] = os.environ,
           repository: Path = REPOSITORY) -> dict[str, str]:
    """The variables the environment adds to `environ` (never overriding what is already set)."""
    added: dict[str, str] = {}
    for path in dotenv_files(name, repository):
        if not path.exists():
            continue
        for key, value in dotenv_values(path).items():
            if value is not None and key not in environ and key not in added:
                added[key] = value
    return added


def load(name: str, environ: MutableMapping[str, str] = os.environ,
         repository: Path = REPOSITORY) -> dict[str, str]:
    """Add the environment's dotenv values to `environ` and return what was added."""
    added = values(name, environ, repository)
    environ.update(added)
    return added


# A setting that its parts can stand for (see application_service.database.url_from_environment).
PARTS = {"DATABASE_URL": "DB_HOST"}


def missing_required(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    def present(key: str) -> bool:
        return any((environ.get(option) or "").strip() for option in (key, PARTS.get(key, key)))

    return [key for key in REQUIRED.get(name, ()) if not present(key)]


def require(name: str, environ: Mapping[str, str] = os.environ) -> None:
    missing = missing_required(name, environ)
    if missing:
        raise ConfigurationError(
            f"The {name} environment cannot start: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set. Set "
            f"{'it' if len(missing) == 1 else 'them'} in the process environment or the "
            f"git-ignored .env (on AWS: SSM Parameter Store); env/{name}.env holds non-secret "
            f"values only."
        )
