"""The root tasks: test, run and manage the service in an environment."""

from __future__ import annotations

import os
import shlex
import sys

from invoke import Exit

from ops import backing_services, commands, locks, migration_lint
from ops.backing_services import django_environment
from ops.doctor import examine, report
from ops.envvars import REPOSITORY, deploy_check_environment, resolve, superuser_environment
from ops.healthcheck import DEFAULT_URL, RoleChecks, celery_health, container_role, healthz, role_checks
from ops.run import replace_process, run
from ops.tasks import ENV_HELP, task


@task(
    help={
        "env": ENV_HELP,
        "pytest_args": "extra arguments for pytest, as one string (e.g. \"-k counter -x\")",
        "wait": "seconds to wait for MySQL and Redis before failing (ci)",
        "reports": "write JUnit XML and coverage (XML, HTML) into reports/ (default on)",
    }
)
def test(c, env=None, pytest_args="", wait=20, reports=True):
    """Run the test suite (ci: MySQL and Redis required, skips fail)."""
    environment = resolve(env)
    backing_services.wait_for(backing_services.required_services(environment), timeout=float(wait))
    run(c, commands.pytest(extra=shlex.split(pytest_args), reports=reports), environment)


@task(help={"env": ENV_HELP})
def shell(c, env=None):
    """Open a Django shell (IPython when installed)."""
    replace_process(commands.shell(), django_environment(env, database=True))


@task(help={"command": 'the manage.py command line, quoted (e.g. "showmigrations")', "env": ENV_HELP})
def manage(c, command, env=None):
    """Run any manage.py command."""
    replace_process(commands.manage_line(command), django_environment(env))


@task(
    help={
        "env": ENV_HELP,
        "lint": "first lint the migrations this database has not applied yet, and refuse (migrating "
                "nothing) when one would break the version still serving (the deploy's migrations)",
        "allow_breaking": "lint, then apply backward-incompatible migrations anyway, with a warning",
    }
)
def migrate(c, env=None, lint=False, allow_breaking=False):
    """Apply database migrations (--lint: refuse backward-incompatible ones first)."""
    environment = django_environment(env, database=True)
    # A migration may rewrite a large table for minutes: no read timeout (DB_READ_TIMEOUT, which
    # serving takes from the env files), unless this run sets one, or the client would give up while
    # the server goes on.
    environment.variables["DB_READ_TIMEOUT"] = os.environ.get("DB_READ_TIMEOUT", "0")
    if lint or allow_breaking:
        linted = run(c, commands.lint_migrations(), environment, warn=True)
        warning = migration_lint.verdict(linted.exited, linted.stdout, allow_breaking=allow_breaking)
        if warning:
            print(warning, file=sys.stderr, flush=True)
    run(c, commands.migrate(), environment)


@task(
    help={
        "env": ENV_HELP,
        "bind": "address to listen on (config serve.bind; INVOKE_SERVE_BIND)",
        "workers": "worker processes (config serve.workers; INVOKE_SERVE_WORKERS)",
        "timeout": "seconds before a silent worker is killed and restarted (config serve.timeout)",
    }
)
def serve(c, env=None, bind=None, workers=None, timeout=None):
    """Serve with gunicorn, the production server."""
    environment = django_environment(env)
    config = commands.ServerConfig(
        bind=bind or c.config.serve.bind,
        workers=int(workers or c.config.serve.workers),
        timeout=int(timeout or c.config.serve.timeout),
        graceful_timeout=int(c.config.serve.graceful_timeout),
        keep_alive=int(c.config.serve.keep_alive),
        max_requests=int(c.config.serve.max_requests),
    )
    replace_process(commands.gunicorn(config), environment)


@task(name="wait-for", help={"env": ENV_HELP, "timeout": "seconds to wait before failing"})
def wait_for(c, env=None, timeout=60):
    """Wait until the database and Redis accept connections."""
    environment = resolve(env)
    required = backing_services.required_services(environment)
    if not required:
        print(f"{environment.name}: nothing to wait for (SQLite, local-memory cache)")
        return
    backing_services.wait_for(required, timeout=float(timeout))


@task(help={"env": ENV_HELP})
def doctor(c, env=None):
    """Check Python, the lock and the services the environment needs."""
    environment = resolve(env)
    findings = examine(environment)
    print(f"environment: {environment.name}")
    print(report(findings))
    if not all(finding.ok for finding in findings):
        raise Exit("doctor found problems; each has its fix above.")


@task
def lint(c):
    """Check code style, migrations, the OpenAPI schema, production's settings and the AWS template."""
    local = resolve("local")
    run(c, commands.ruff_check(), local)
    run(c, commands.cfn_lint(), local)
    run(c, commands.makemigrations_check(), local)
    run(c, commands.schema_check(), local)
    run(c, commands.deploy_check(), deploy_check_environment(resolve("production")))


@task(
    help={
        "username": "the superuser's username",
        "email": "the superuser's email address",
        "password": "the password (better: set DJANGO_SUPERUSER_PASSWORD, kept out of shell history)",
        "env": ENV_HELP,
    }
)
def createsuperuser(c, username, email, password=None, env=None):
    """Create a superuser without prompting (for scripts and CI)."""
    environment = superuser_environment(django_environment(env, database=True), username=username,
                                        email=email, password=password)
    run(c, commands.createsuperuser(), environment)


@task
def lock(c):
    """Compile requirements*.in into the hashed lock files."""
    for command in locks.compile_commands():
        run(c, command, resolve("local"), cwd=str(REPOSITORY))


@task(help={
    "url": f"the URL that must answer 200 (default {DEFAULT_URL})",
    "role": "the entrypoint role to check (serve, \"celery --beat\", celery.beat): its web server, "
            "worker or beat; default: the role this container runs (its entrypoint records it)",
})
def healthcheck(c, url=None, role=None):
    """Check this container's role: the web server answers /healthz, the worker a ping, beat ticks."""
    role = role or container_role(os.environ)
    checks = role_checks(role)
    if checks == RoleChecks():
        print(f"nothing to check for the role {role!r}: it is not a server")
    if checks.web:
        print(healthz(url or DEFAULT_URL))
    if checks.worker or checks.beat:
        for line in celery_health(django_environment(None), worker=checks.worker, beat=checks.beat):
            print(line)


TASKS = (test, shell, manage, migrate, serve, wait_for, doctor, lint, createsuperuser, lock, healthcheck)
