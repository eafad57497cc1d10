"""What `invoke dev` runs: the web server, and the worker and beat when their broker answers."""

from __future__ import annotations

from ops import commands
from ops.envvars import Environment
from ops.processes import after_answer, restarting

REDIS_FIX = ("start Redis (redis-server --daemonize yes --port 6379) and run `invoke dev` again, "
             "or remove REDIS_URL (from .env) to use the embedded broker")


def dev_processes(environment: Environment, address: str, *, jobs: bool) -> dict[str, list[str]]:
    """The development web server; with `jobs`, a Celery worker and beat beside it, started once
    the web server answers. The worker uses threads: Ctrl-C then stops it at once, with no pool
    processes to kill one by one. Both keep trying while Redis is away; should one stop all the
    same, it is started again rather than taking the web server down with it."""
    processes = {"web": commands.runserver(address)}
    if jobs:
        # They start once the web server answers: the first page comes sooner on a small machine.
        web = f"http://{address}/healthz"
        worker = after_answer(web, commands.celery_worker(concurrency=2, pool="threads"))
        beat = after_answer(web, commands.celery_beat(schedule_dir=environment.embedded_broker_dir))
        processes["worker"], processes["beat"] = restarting("worker", worker), restarting("beat", beat)
    return processes


def dev_plan_notice(environment: Environment, address: str, redis_problem: str | None) -> str:
    """One paragraph: what serves where, and when Redis does not answer, what that leaves out and
    the fix."""
    url = f"http://{address}/"
    if redis_problem is None:
        broker = "redis" if environment.redis_url else "embedded"
        return (f"Serving {environment.name} on {url} with a worker and beat (broker: {broker}); "
                f"Ctrl-C stops all")
    from application_service import database

    return (f"Redis ({database.redact(environment.redis_url)}) does not answer ({redis_problem}). "
            f"Serving {environment.name} on {url} without the worker and beat, which need it: jobs "
            f"are not run and /readyz answers 503. To run them, {REDIS_FIX}. Ctrl-C stops "
            f"the web server.")
