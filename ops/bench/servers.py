"""The processes under test: gunicorn servers and Celery workers, their commands and environments.

Every server runs the `invoke serve` gunicorn command and every worker the `invoke celery`
command, with only the application swapped, under the production environment with stand-ins
for its secrets, the bench's databases, and a Redis key prefix of this run's own. The bench's
own code (the references, the no-op job) lives in the repository's ops/, outside the project
directory: the processes that load it find it through the repository root on PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ops import commands
from ops.bench.plan import PROJECT_APP, PROJECT_CELERY_APP, Server, Settings, Worker
from ops.envvars import REPORTS_DIR, REPOSITORY, Environment, resolve
from ops.errors import UserError
from ops.processes import free_port, stop

LOGS = REPORTS_DIR / "bench"
# TLS ends at the load balancer, which says so; without it production redirects to https.
BEHIND_LOAD_BALANCER = {"X-Forwarded-Proto": "https"}
# Throttles stay on (their cache round trips are part of a request's cost) but never refuse:
# the bench is one client sending thousands of requests a second.
UNLIMITED_RATE = "1000000000/second"
WORKER_READY = " ready."  # celery's "celery@host ready." once it consumes


def key_prefix(run_id: str, worker: Worker | None = None) -> str:
    """This run's Redis keys (every one removed afterwards). The project's worker shares the
    project's prefix (its servers publish there); a worker of another app has its own below it."""
    base = f"bench-{run_id}:"
    return f"{base}{worker.name}:" if worker is not None and worker.own_settings else base


def bench_environment(settings: Settings, run_id: str, base: dict[str, str] | None = None) -> Environment:
    """Production, with stand-ins for its secrets, the bench database and this run's Redis keys."""
    prefix = key_prefix(run_id)
    return resolve("production", base).with_variables(
        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="127.0.0.1", NUM_PROXIES="0",
        DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, CELERY_BROKER_URL="",
        CACHE_KEY_PREFIX=f"{prefix}cache", CELERY_KEY_PREFIX=prefix,
        THROTTLE_ANON_RATE=UNLIMITED_RATE, THROTTLE_USER_RATE=UNLIMITED_RATE,
        THROTTLE_AUTH_RATE=UNLIMITED_RATE, MESSAGE_PROCESSING_SECONDS="0",
    )


def with_bench_code(environment: Environment) -> Environment:
    """The environment with the repository root after the project on PYTHONPATH (for ops.bench)."""
    return environment.with_variables(
        PYTHONPATH=os.pathsep.join(part for part in (environment.get("PYTHONPATH"), str(REPOSITORY)) if part))


def server_environment(environment: Environment, server: Server, settings: Settings) -> Environment:
    """The project's servers run the project alone; a reference is the bench's code."""
    if server.settings is not None:
        environment = with_bench_code(environment).with_variables(DJANGO_SETTINGS_MODULE=server.settings)
    if server.small:
        environment = environment.with_variables(DATABASE_URL=settings.small_database_url)
    return environment


def worker_environment(environment: Environment, worker: Worker, run_id: str) -> Environment:
    """Every worker loads bench code: the bare app, or the project's with the bench's no-op job."""
    return with_bench_code(environment).with_variables(CELERY_KEY_PREFIX=key_prefix(run_id, worker))


def server_command(server: Server, *, bind: str, workers: int) -> list[str]:
    """The `invoke serve` gunicorn command, serving the server's WSGI application."""
    argv = commands.gunicorn(commands.ServerConfig(bind=bind, workers=workers))
    argv[argv.index(PROJECT_APP)] = server.app
    return argv


def worker_command(worker: Worker, *, concurrency: int) -> list[str]:
    """The `invoke celery --concurrency N` command, running the worker's app (and the modules it
    includes) under its own name."""
    argv = commands.celery_worker(concurrency=concurrency, include=worker.include)
    argv[argv.index(PROJECT_CELERY_APP)] = worker.app
    return [*argv, "--hostname", f"{worker.name}@%h"]


@dataclass
class Running:
    name: str
    process: subprocess.Popen
    log: Path
    port: int = 0  # servers only

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def launch(name: str, argv: list[str], environment: Environment, port: int = 0) -> Running:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(argv, env=environment.variables, cwd=REPOSITORY, stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    return Running(name, process, log, port)


def start_server(server: Server, environment: Environment, settings: Settings) -> Running:
    port = free_port()
    return launch(server.name, server_command(server, bind=f"127.0.0.1:{port}", workers=settings.workers),
                  server_environment(environment, server, settings), port)


def start_worker(worker: Worker, environment: Environment, settings: Settings, run_id: str) -> Running:
    return launch(worker.name, worker_command(worker, concurrency=settings.concurrency),
                  worker_environment(environment, worker, run_id))


@contextlib.contextmanager
def stopping(started: dict[str, Running]) -> Iterator[dict[str, Running]]:
    """Yield the (growing) map of started processes; stop every one when the block ends."""
    try:
        yield started
    finally:
        for running in started.values():
            stop(running.process)


def request(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
            body: bytes | None = None, timeout: float = 10) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={**BEHIND_LOAD_BALANCER, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_answering(running: Running, path: str, *, timeout: float = 60) -> None:
    """Until the server answers `path` with 200 (not a redirect, not an error page)."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise UserError(f"The {running.name} server exited ({running.process.returncode}):"
                            f"\n{running.tail()}")
        try:
            status, _ = request(running.port, "GET", path)
        except OSError:  # not listening yet
            time.sleep(0.2)
            continue
        if status == 200:
            return
        break  # gunicorn listens once the application is loaded: a wrong answer stays wrong
    raise UserError(f"The {running.name} server answered {path} with {status}, not 200 "
                    f"(log: {running.log}):\n{running.tail()}")


def wait_until_consuming(running: Running, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if WORKER_READY in running.log.read_text(errors="replace"):
            return
        if running.process.poll() is not None:
            break
        time.sleep(0.2)
    raise UserError(f"The {running.name} worker did not report ready within {timeout}s "
                    f"(log: {running.log}):\n{running.tail()}")
