"""Command lines as data: each function returns the argv a task runs."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ops.envvars import PROJECT_DIR, PYTHON, REPORTS_DIR, REPOSITORY
from ops.errors import UserError

MANAGE = str(PROJECT_DIR / "manage.py")


def manage(*arguments: str) -> list[str]:
    return [PYTHON, MANAGE, *arguments]


def manage_line(line: str) -> list[str]:
    """`invoke manage "showmigrations application"` -> manage.py showmigrations application."""
    arguments = shlex.split(line)
    if not arguments:
        raise UserError('Name a manage.py command, for example: invoke manage "showmigrations".')
    return manage(*arguments)


def migrate() -> list[str]:
    return manage("migrate", "--noinput")


def lint_migrations() -> list[str]:
    """django-migration-linter on the migrations this database has not applied yet (the analyser
    follows the database's engine: mysql, sqlite). No cache: it would live in the user's cache
    directory, which the image's user may not write, and a one-off run gains nothing from it.
    The applied migrations' IGNORE lines are left out."""
    return manage("lintmigrations", "--unapplied-migrations", "--no-cache", "--quiet", "ignore")


def runserver(address: str) -> list[str]:
    return manage("runserver", address)


def shell() -> list[str]:
    return manage("shell")


@dataclass(frozen=True)
class ServerConfig:
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    timeout: int = 30
    graceful_timeout: int = 30
    keep_alive: int = 5
    max_requests: int = 0  # recycle a worker after this many requests (0: never)


def gunicorn(config: ServerConfig) -> list[str]:
    argv = [
        PYTHON, "-m", "gunicorn", "application_service.wsgi:application",
        "--chdir", str(PROJECT_DIR),
        # Its hooks give the workers one Prometheus directory, fresh at each start (/metrics merges it).
        "--config", "python:application_service.gunicorn_hooks",
        "--bind", config.bind,
        "--workers", str(config.workers),
        "--timeout", str(config.timeout),
        "--graceful-timeout", str(config.graceful_timeout),
        "--keep-alive", str(config.keep_alive),
        "--error-logfile", "-",
    ]
    if config.max_requests:
        argv += ["--max-requests", str(config.max_requests),
                 "--max-requests-jitter", str(max(1, config.max_requests // 10))]
    return argv


def pytest(*, extra: Sequence[str] = (), reports: bool = True) -> list[str]:
    argv = [PYTHON, "-m", "pytest"]
    if reports:
        argv += [
            f"--junitxml={REPORTS_DIR / 'junit.xml'}",
            "--cov", "--cov-report=term:skip-covered",
            f"--cov-report=xml:{REPORTS_DIR / 'coverage.xml'}",
            f"--cov-report=html:{REPORTS_DIR / 'htmlcov'}",
        ]
    return argv + list(extra)


def ruff_check() -> list[str]:
    return [PYTHON, "-m", "ruff", "check", "."]


def makemigrations_check() -> list[str]:
    return manage("makemigrations", "--check", "--dry-run")


def cfn_lint() -> list[str]:
    """The AWS template against CloudFormation's published resource specification (cfn-lint's
    command sits beside this Python)."""
    return [str(Path(PYTHON).parent / "cfn-lint"), str(REPOSITORY / "aws" / "environment.yml")]


def deploy_check() -> list[str]:
    return manage("check", "--deploy", "--fail-level", "WARNING")


def schema_check() -> list[str]:
    """Generate the OpenAPI schema and validate it; any warning fails. The file is not kept."""
    return manage("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)


def createsuperuser() -> list[str]:
    return manage("createsuperuser", "--noinput")


CELERY_APP = "application_service.celery"


def celery_worker(*, concurrency: int | None = None, queues: str = "", beat: bool = False,
                  loglevel: str = "INFO", schedule_dir: str = "", include: str = "",
                  pool: str = "", quiet: bool = False) -> list[str]:
    """A worker; with `beat` it runs the scheduler too (its schedule file in `schedule_dir` on
    the embedded broker; with Redis, RedBeat keeps the schedule there). `include`: modules of
    jobs to import beside those the app finds (comma-separated, Celery's --include). `pool`:
    Celery's --pool (default prefork). `quiet`: no start-up banner (printed, not logged: not a
    JSON line)."""
    argv = [PYTHON, "-m", "celery", "--app", CELERY_APP, "--workdir", str(PROJECT_DIR),
            *(["--quiet"] if quiet else []), "worker", "--loglevel", loglevel]
    if pool:
        argv += ["--pool", pool]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if queues:
        argv += ["--queues", queues]
    if include:
        argv += ["--include", include]
    if beat:
        argv += ["--beat"]
        if schedule_dir:
            argv += ["--schedule", f"{schedule_dir}/beat-schedule"]
    return argv


def celery_beat(*, schedule_dir: str = "", loglevel: str = "INFO", quiet: bool = False) -> list[str]:
    """Beat alone. With Redis, RedBeat's lock lets one run across hosts (others wait on standby);
    on the embedded broker a pid file keeps a second one on this machine from starting.
    `quiet`: no start-up banner."""
    argv = [PYTHON, "-m", "celery", "--app", CELERY_APP, "--workdir", str(PROJECT_DIR),
            *(["--quiet"] if quiet else []), "beat", "--loglevel", loglevel]
    if schedule_dir:
        argv += ["--schedule", f"{schedule_dir}/beat-schedule", "--pidfile", f"{schedule_dir}/beat.pid"]
    return argv


def celery_ping(nodename: str, *, timeout: float = 5) -> list[str]:
    """Ask the worker `nodename` to answer through the broker; exits non-zero when it does not
    within `timeout` seconds, or when the broker does not answer."""
    return [PYTHON, "-m", "celery", "--app", CELERY_APP, "--workdir", str(PROJECT_DIR), "inspect", "ping",
            "--destination", nodename, "--timeout", f"{timeout:g}"]
