"""dev: the service on this machine, with autoreload (or the whole stack in docker compose)."""

from __future__ import annotations

from invoke import Collection, Exit

from ops import commands
from ops.backing_services import django_environment
from ops.envvars import resolve
from ops.processes import run_together
from ops.run import replace_process, run
from ops.tasks import ENV_HELP, from_checkout, task

ADDRESS_HELP = "address of the development server"


@task(name="start", default=True, help={
    "env": ENV_HELP, "address": ADDRESS_HELP,
    "docker": "run web, worker, beat, MySQL and Redis with docker compose instead",
})
def start(c, env=None, address="127.0.0.1:8000", docker=False):
    """Migrate, then serve with autoreload, a Celery worker and beat; Ctrl-C stops all."""
    if docker:
        compose = from_checkout("ops.compose", "dev --docker")
        replace_process(compose.up(front=compose.program()), resolve("local"))
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


@task(help={"env": ENV_HELP, "address": ADDRESS_HELP})
def web(c, env=None, address="127.0.0.1:8000"):
    """Run only the development web server, with autoreload (compose's web role)."""
    replace_process(commands.runserver(address), django_environment(env))


ns = Collection("dev", start, web)
