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
    # NUM_PROXIES: how many proxies stand before the service (README, "Proxies"); it decides
    # which client address the limits count and whether X-Forwarded-Proto is believed, so it is
    # set on purpose, 0 included.
    "production": ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "NUM_PROXIES"),
}
# The keys local and ci fall back to: public (they are in this repository), never production's.
DEVELOPMENT_KEYS = {
    "local": "local-development-key-not-for-production-use-0123456789",
    "ci": "ci-key-for-tests-only-never-deployed-0123456789abcdef",
}
SECRET_KEY_LENGTH = 50  # Django's own check --deploy: at least 50 characters, 5 of them different


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


def redis_url(environ: Mapping[str, str] = os.environ, name: str = "REDIS_URL") -> str:
    """The Redis URL `name`, checked, with REDIS_PASSWORD in it when that is set apart (on AWS the
    AUTH token arrives as a secret of its own; a URL holding a password already keeps it)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    url = check_redis_url((environ.get(name) or "").strip(), name)
    password = environ.get("REDIS_PASSWORD") or ""
    parts = urlsplit(url)
    if not (url and password) or parts.scheme == "unix" or parts.password:
        return url
    user, host = quote(parts.username or "", safe=""), parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


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


def unsafe_values(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """What is set but unfit for production: one sentence each, naming the setting and the fix."""
    if name != "production":
        return []
    problems = []
    key = (environ.get("SECRET_KEY") or "").strip()
    if key in DEVELOPMENT_KEYS.values():
        problems.append("SECRET_KEY is one of this template's development keys, which are public: "
                        "generate one (python3 -c 'import secrets; print(secrets.token_urlsafe(50))')")
    elif key and (len(key) < SECRET_KEY_LENGTH or len(set(key)) < 5 or key.startswith("django-insecure-")):
        problems.append(f"SECRET_KEY is too short or too plain ({len(key)} characters, {len(set(key))} "
                        f"different): use at least {SECRET_KEY_LENGTH} random ones (python3 -c 'import "
                        f"secrets; print(secrets.token_urlsafe(50))')")
    hosts = [host.strip() for host in (environ.get("ALLOWED_HOSTS") or "").split(",")]
    if "*" in hosts:
        problems.append("ALLOWED_HOSTS=* accepts any Host header (poisoned links in password-reset "
                        "mails, cache poisoning): name the service's domains, comma-separated")
    proxies = (environ.get("NUM_PROXIES") or "").strip()
    if proxies and not (proxies.isdigit() and int(proxies) <= 5):
        problems.append(f"NUM_PROXIES={proxies} is not a number of proxies: 0 without a proxy, 1 behind "
                        f"a load balancer, 2 behind a load balancer and a proxy that appends too")
    return problems


def require(name: str, environ: Mapping[str, str] = os.environ) -> None:
    missing = missing_required(name, environ)
    problems = unsafe_values(name, environ)
    sentences = []
    if missing:
        sentences.append(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. Set "
            f"{'it' if len(missing) == 1 else 'them'} in the process environment or the "
            f"git-ignored .env (on AWS: SSM Parameter Store); env/{name}.env holds non-secret "
            f"values only.")
    sentences += [f"{problem}." for problem in problems]
    if sentences:
        raise ConfigurationError(f"The {name} environment cannot start: {' '.join(sentences)}")
