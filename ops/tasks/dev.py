"""dev: the service on this machine, with autoreload (or the whole stack in docker compose)."""

from __future__ import annotations

from invoke import Collection, Exit

from ops import commands
from ops.backing_services import django_environment, redis_problem
from ops.dev import dev_plan_notice, dev_processes
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
    redis_down = redis_problem(environment)
    print(dev_plan_notice(environment, address, redis_down), flush=True)
    code = run_together(dev_processes(environment, address, jobs=redis_down is None), environment)
    if code:
        raise Exit(code=code)


@task(help={"env": ENV_HELP, "address": ADDRESS_HELP})
def web(c, env=None, address="127.0.0.1:8000"):
    """Run only the development web server, with autoreload (compose's web role)."""
    replace_process(commands.runserver(address), django_environment(env))


ns = Collection("dev", start, web)
