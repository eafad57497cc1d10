"""Health checks: the web server answers /healthz (`invoke healthcheck`); a Celery worker answers
through its broker and beat ticks (`invoke celery.health`); and which of them fit the role a
container runs (docker/entrypoint.sh records it)."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ops import commands
from ops.envvars import Environment
from ops.errors import UserError

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
# Where beat touches its heartbeat file unless BEAT_HEARTBEAT_FILE says otherwise: the settings'
# default (CELERY_BEAT_HEARTBEAT_FILE), in the temporary directory.
HEARTBEAT_NAME = "little-service-beat.heartbeat"
# Seconds after beat's last tick at which it counts as dead: it ticks every few seconds
# (CELERY_BEAT_MAX_LOOP_INTERVAL), and a tick while Redis is away can take about ten.
DEFAULT_HEARTBEAT_MAX_AGE = 60.0
PING_TIMEOUT = 5.0
# The role line (an invoke task and its options) docker/entrypoint.sh writes before it starts it.
DEFAULT_ROLE_FILE = "/tmp/app-role"  # noqa: S108 (inside the container, written by its entrypoint)


def healthz(url: str = DEFAULT_URL, timeout: float = 5) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (the container's own port)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        raise UserError(f"{url} does not answer: {exc}") from None
    if status != 200:
        raise UserError(f"{url} answered {status}, not 200.")
    return f"{url}: 200"


def heartbeat_file(variables: Mapping[str, str]) -> Path:
    return Path(variables.get("BEAT_HEARTBEAT_FILE") or Path(tempfile.gettempdir()) / HEARTBEAT_NAME)


def heartbeat_max_age(variables: Mapping[str, str]) -> float:
    value = variables.get("BEAT_HEARTBEAT_MAX_AGE") or str(DEFAULT_HEARTBEAT_MAX_AGE)
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise UserError(f"BEAT_HEARTBEAT_MAX_AGE={value!r} is not a number of seconds: write it as 60.")
    return seconds


def beat_ticks(path: Path, max_age: float, *, now: Callable[[], float] = time.time) -> str:
    """Beat touched its heartbeat file within `max_age` seconds, else UserError."""
    try:
        age = max(0.0, now() - path.stat().st_mtime)
    except FileNotFoundError:
        raise UserError(f"beat has not ticked: {path} does not exist (beat writes it at every tick "
                        f"once it runs; with the embedded broker it writes none).") from None
    if age > max_age:
        raise UserError(f"beat last ticked {age:.0f}s ago, more than {max_age:g}s "
                        f"(BEAT_HEARTBEAT_MAX_AGE): it died or hangs; restart it (the worker, "
                        f"when beat runs inside it).")
    return f"beat ticked {age:.0f}s ago ({path})"


def worker_answers(environment: Environment, *, nodename: str = "", timeout: float = PING_TIMEOUT,
                   run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> str:
    """The worker of this host (Celery's default node name) answers a ping through the broker,
    else UserError."""
    from celery.utils.nodenames import default_nodename

    node = nodename or default_nodename(None)
    result = run(commands.celery_ping(node, timeout=timeout), env=environment.variables,
                 capture_output=True, text=True, timeout=timeout + 60)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        reason = lines[-1].removeprefix("Error: ") if lines else f"exit code {result.returncode}"
        raise UserError(f"the worker {node} does not answer through its broker: {reason}")
    return f"worker {node} answers"


def celery_health(environment: Environment, *, worker: bool = True, beat: bool = False,
                  run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                  now: Callable[[], float] = time.time) -> list[str]:
    """One line per check that passed; UserError naming every check that failed."""
    if not (worker or beat):
        raise UserError("Nothing to check: leave out --no-worker, or add --beat.")
    checks: list[Callable[[], str]] = []
    if beat:
        checks.append(lambda: beat_ticks(heartbeat_file(environment.variables),
                                         heartbeat_max_age(environment.variables), now=now))
    if worker:
        checks.append(lambda: worker_answers(environment, run=run))
    passed, problems = [], []
    for check in checks:
        try:
            passed.append(check())
        except UserError as exc:
            problems.append(str(exc))
    if problems:
        raise UserError("; ".join(problems))
    return passed


@dataclass(frozen=True)
class RoleChecks:
    web: bool = False
    worker: bool = False
    beat: bool = False


def role_checks(role: str) -> RoleChecks:
    """What a container running the role `role` (an entrypoint argument line: `serve`, `celery
    --beat`, `celery.beat` ...) must pass: its web server, worker, or beat; nothing for a one-off
    task such as migrate."""
    words = shlex.split(role) or ["serve"]
    task = words[0]
    if task in {"serve", "dev.web"}:
        return RoleChecks(web=True)
    if task in {"celery", "celery.worker"}:
        return RoleChecks(worker=True, beat="--beat" in words or "-b" in words)
    if task == "celery.beat":
        return RoleChecks(beat=True)
    return RoleChecks()


def container_role(variables: Mapping[str, str]) -> str:
    """The role this container runs: the line its entrypoint recorded (APP_ROLE_FILE), else
    APP_ROLE, else serve."""
    path = Path(variables.get("APP_ROLE_FILE") or DEFAULT_ROLE_FILE)
    try:
        recorded = path.read_text().strip()
    except OSError:
        recorded = ""
    return recorded or variables.get("APP_ROLE") or "serve"
