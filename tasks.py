"""The task surface of Little Service: developers, Docker, CircleCI, CodeBuild and .ci/run call these.

Each task parses its arguments and calls a tested function in application_service/ops.
Run `invoke --list` for the tasks and `invoke --help TASK` for a task's options.
"""

from __future__ import annotations

import functools
import secrets
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "application_service"))

import invoke
from invoke import Collection, Exit

from ops import bench as benchmark
from ops import commands, images, probe, services
from ops import compose as compose_commands
from ops import db as database_ops
from ops import doctor as doctor_checks
from ops.environments import Environment, resolve
from ops.errors import UserError
from ops.processes import run_together
from ops.run import replace_process, run

ENV_HELP = "environment: local, ci or production (default: APP_ENV, else ci when CI=true, else local)"


def task(*args, **kwargs):
    """invoke.task that turns a UserError into a one-paragraph message and exit code 1."""

    def decorate(body):
        @functools.wraps(body)
        def guarded(c, *a, **kw):
            try:
                return body(c, *a, **kw)
            except UserError as exc:
                raise Exit(f"error: {exc}") from None

        return invoke.task(**kwargs)(guarded)

    if args and callable(args[0]):
        return decorate(args[0])
    return decorate


def django_environment(env: str | None, *, database: bool = False) -> Environment:
    """The environment, checked far enough that Django will start: required settings, DATABASE_URL,
    and with `database` a reachable database (a command that needs one fails with a message,
    not with a driver's traceback)."""
    environment = resolve(env)
    environment.require()
    services.database_config(environment)
    if database:
        services.require_database(environment)
    return environment


@task(help={"env": ENV_HELP, "address": "address for the development server",
            "docker": "run web, worker, beat, MySQL and Redis with docker compose instead"})
def dev(c, env=None, address="127.0.0.1:8000", docker=False):
    """Migrate, then serve with autoreload for development."""
    if docker:
        replace_process(compose_commands.up(front=compose_commands.program()), resolve("local"))
    environment = django_environment(env, database=True)
    run(c, commands.migrate(), environment)
    print(f"Serving {environment.name} on http://{address}/ with a worker and beat "
          f"(broker: {environment.redis_url and 'redis' or 'embedded'}); Ctrl-C stops all", flush=True)
    code = run_together({
        "web": commands.runserver(address),
        "worker": commands.celery_worker(concurrency=2),
        "beat": commands.celery_beat(schedule_dir=environment.embedded_broker_dir),
    }, environment)
    if code:
        raise Exit(code=code)


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
    services.wait_for(services.required_services(environment), timeout=float(wait))
    run(c, commands.pytest(extra=shlex.split(pytest_args), reports=reports), environment)


@task(help={"env": ENV_HELP})
def shell(c, env=None):
    """Open a Django shell (IPython when installed)."""
    replace_process(commands.shell(), django_environment(env, database=True))


@task(help={"command": 'the manage.py command line, quoted (e.g. "showmigrations")', "env": ENV_HELP})
def manage(c, command, env=None):
    """Run any manage.py command."""
    replace_process(commands.manage_line(command), django_environment(env))


@task(help={"env": ENV_HELP})
def migrate(c, env=None):
    """Apply database migrations."""
    run(c, commands.migrate(), django_environment(env, database=True))


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
    required = services.required_services(environment)
    if not required:
        print(f"{environment.name}: nothing to wait for (SQLite, local-memory cache)")
        return
    services.wait_for(required, timeout=float(timeout))


@task(help={"env": ENV_HELP})
def doctor(c, env=None):
    """Check Python, the lock and the services the environment needs."""
    environment = resolve(env)
    findings = doctor_checks.examine(environment)
    print(f"environment: {environment.name}")
    print(doctor_checks.report(findings))
    if not all(finding.ok for finding in findings):
        raise Exit("doctor found problems; each has its fix above.")


@task
def lint(c):
    """Check code style, missing migrations, the OpenAPI schema and production deploy settings."""
    run(c, commands.ruff_check(), resolve("local"))
    run(c, commands.makemigrations_check(), resolve("local"))
    run(c, commands.schema_check(), resolve("local"))
    # check --deploy needs production's required settings; real values are not needed to
    # judge them, so stand-ins are generated for whatever is not set.
    production = resolve("production")
    stand_ins = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "service.example.com",
        "DATABASE_URL": "mysql://lint@127.0.0.1:3306/lint",
    }
    production = production.with_variables(
        **{key: value for key, value in stand_ins.items() if not production.get(key)}
    )
    run(c, commands.deploy_check(), production)


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
    environment = django_environment(env, database=True)
    password = password or environment.get("DJANGO_SUPERUSER_PASSWORD")
    if not password:
        raise UserError("No password given: pass --password or set DJANGO_SUPERUSER_PASSWORD.")
    environment = environment.with_variables(
        DJANGO_SUPERUSER_USERNAME=username,
        DJANGO_SUPERUSER_EMAIL=email,
        DJANGO_SUPERUSER_PASSWORD=password,
    )
    run(c, commands.createsuperuser(), environment)


@task
def lock(c):
    """Compile requirements*.in into the hashed lock files."""
    for source, target in (("requirements.in", "requirements.txt"),
                           ("requirements-dev.in", "requirements-dev.txt")):
        run(c, commands.pip_compile(source, target), resolve("local"), cwd=str(ROOT))


@task(
    name="worker",
    default=True,
    help={
        "env": ENV_HELP,
        "concurrency": "worker processes (default: one per core)",
        "queues": "comma-separated queues to consume (default: all the app's)",
        "beat": "also run the beat scheduler inside this worker (one per deployment)",
        "loglevel": "DEBUG, INFO, WARNING or ERROR",
    },
)
def celery_worker(c, env=None, concurrency=None, queues="", beat=False, loglevel="INFO"):
    """Run a Celery worker."""
    environment = django_environment(env)
    replace_process(commands.celery_worker(
        concurrency=int(concurrency) if concurrency else None, queues=queues, beat=beat,
        loglevel=loglevel, schedule_dir=environment.embedded_broker_dir,
    ), environment)


@task(name="beat", help={"env": ENV_HELP, "loglevel": "DEBUG, INFO, WARNING or ERROR"})
def celery_beat(c, env=None, loglevel="INFO"):
    """Run the Celery beat scheduler alone (only one runs at a time)."""
    environment = django_environment(env)
    replace_process(commands.celery_beat(schedule_dir=environment.embedded_broker_dir,
                                         loglevel=loglevel), environment)


@task(
    help={
        "duration": "seconds of load per run (default 5)",
        "connections": "connections wrk keeps open (default 16)",
        "workers": "gunicorn workers of every server (config serve.workers)",
        "rounds": "rounds; each runs every scenario beside its baseline, the median counts (default 5)",
        "jobs": "Celery jobs per batch (default 2000)",
        "messages": "messages POSTed one by one to time POST to processed (default 200)",
        "database_url": "MySQL URL of the throwaway bench database, dropped and created fresh "
                        "(default mysql://root@127.0.0.1:3306/little_service_bench; _small appended "
                        "for the small-table one)",
        "redis_url": "Redis for the cache, throttles and broker (default redis://127.0.0.1:6379/13)",
        "check": "exit non-zero when a scenario misses its target",
    }
)
def bench(c, duration=None, connections=None, workers=None, rounds=None, jobs=None, messages=None,
          database_url=None, redis_url=None, check=False):
    """Measure the counter page, the API and the jobs against bare Django and Celery baselines."""
    settings = benchmark.with_options(
        benchmark.Settings(workers=int(c.config.serve.workers)), duration=duration,
        connections=connections, workers=workers, rounds=rounds, jobs=jobs, messages=messages,
        database_url=database_url, redis_url=redis_url,
    )
    report = benchmark.measure(c, settings)
    if check and not report["passed"]:
        raise Exit("bench: a scenario missed its target (see the table above).")


@task(name="create", help={"env": ENV_HELP})
def db_create(c, env=None):
    """Create the database (utf8mb4) when it does not exist."""
    print(database_ops.create(resolve(env)))


db = Collection("db")
db.add_task(db_create)
celery = Collection("celery")
celery.add_task(celery_worker)
celery.add_task(celery_beat)


@task(
    help={
        "push": "log in to ECR and push the image (refused for an uncommitted tree)",
        "name": "local image name (config docker.image)",
        "repository": "ECR repository to push to (config docker.repository)",
        "base_image": "base image build argument (default: the Dockerfile's, python:3.12-slim)",
        "pip_config": "a pip.conf for this build only (a company index or mirror); never in a layer",
        "ca_bundle": "a CA bundle pip trusts during the build (behind a TLS-inspecting proxy)",
        "no_cache": "rebuild every layer",
        "artifact": "with --push: where to write Elastic Beanstalk's Dockerrun.aws.json",
    }
)
def build(c, push=False, name=None, repository=None, base_image=None, pip_config=None,
          ca_bundle=None, no_cache=False, artifact=None):
    """Build the image, tagged with the git sha; --push sends it to ECR."""
    revision = images.revision()
    if push and revision.dirty:
        raise UserError("The tree has uncommitted changes: a pushed tag must name a commit. "
                        "Commit first (or build without --push).")
    options = images.BuildOptions(
        name=name or c.config.docker.image, tag=revision.tag, base_image=base_image,
        extra_files=images.build_config_files(pip_config=pip_config, ca_bundle=ca_bundle),
        no_cache=no_cache, labels={"org.opencontainers.image.revision": revision.sha},
    )
    client = images.connect()
    images.build(client, options)
    print(f"built {options.reference}", flush=True)
    if push:
        import boto3

        pushed = images.push(client, boto3.client("ecr"), image=options.reference,
                             repository=repository or c.config.docker.repository, tag=revision.tag)
        path = images.write_artifact(pushed, ROOT / (artifact or c.config.docker.artifact))
        print(f"pushed {pushed}; deployment artifact {path}", flush=True)


@task(help={"url": f"the URL that must answer 200 (default {probe.DEFAULT_URL})"})
def healthcheck(c, url=None):
    """Check that the web server answers /healthz (the image's HEALTHCHECK)."""
    print(probe.healthz(url or probe.DEFAULT_URL))


@task(help={"volumes": "also remove the MySQL data volume"})
def docker_down(c, volumes=False):
    """Stop the docker compose development stack (the data volume survives)."""
    run(c, compose_commands.down(front=compose_commands.program(), volumes=volumes), resolve("local"))


@task(help={"service": "the compose service to enter",
            "command": 'what to run there (default "invoke shell")'})
def docker_shell(c, service="web", command="invoke shell"):
    """Open a shell in a running compose service (a Django shell by default)."""
    replace_process(compose_commands.shell(front=compose_commands.program(), service=service,
                                           command=shlex.split(command)), resolve("local"))


@task(iterable=["service"], help={"service": "a service to show (repeatable; default all)",
                                  "follow": "keep following new lines (default on)"})
def docker_logs(c, service=None, follow=True):
    """Show the compose services' logs."""
    replace_process(compose_commands.logs(front=compose_commands.program(), services=service or [],
                                          follow=follow), resolve("local"))


docker = Collection("docker")
docker.add_task(docker_down, name="down")
docker.add_task(docker_shell, name="shell")
docker.add_task(docker_logs, name="logs")

ns = Collection(dev, test, shell, manage, migrate, serve, wait_for, doctor, lint,
                createsuperuser, lock, db, bench, celery, build, healthcheck, docker)
ns.configure({
    "docker": {
        "image": "little-service",
        "repository": "little-service",
        "artifact": "dist/Dockerrun.aws.json",
    },
    "serve": {
        "bind": "127.0.0.1:8000",
        "workers": 2,
        "timeout": 30,
        "graceful_timeout": 30,
        "keep_alive": 5,
        "max_requests": 0,
    },
})
