"""Run several long-lived processes together, each line prefixed with its name (honcho)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence

from honcho import manager as honcho_manager
from honcho.manager import Manager
from honcho.printer import Printer

from ops.envvars import PYTHON, REPOSITORY, Environment

# Seconds between SIGTERM and SIGKILL. honcho's 5 s (a module constant, its only setting) is
# shorter than a Celery worker's warm shutdown on the file-system broker (about 4.5 s): Ctrl-C
# ended in a SIGKILL and the pool's errors.
STOP_GRACE_SECONDS = 15
# Seconds before a process that `restarting` keeps running is started again.
RESTART_DELAY_SECONDS = 5


def run_together(processes: Mapping[str, Sequence[str]], environment: Environment) -> int:
    """Start every process; when one stops or Ctrl-C arrives, stop them all. Returns the exit code."""
    honcho_manager.KILL_WAIT = STOP_GRACE_SECONDS
    manager = Manager(Printer(sys.stdout))
    for name, argv in processes.items():
        manager.add_process(name, shlex.join(argv), env=environment.variables)
    manager.loop()
    return manager.returncode or 0


def restarting(name: str, argv: Sequence[str], delay: float = RESTART_DELAY_SECONDS) -> list[str]:
    """argv, started again `delay` seconds after each time it stops (a shell loop): in
    `run_together`, where one process that stops stops all the others (honcho's rule), a process
    that may stop (a worker or beat giving up on Redis) then leaves the others running. Ctrl-C
    still ends it: honcho signals the loop's whole process group."""
    loop = (f'while :; do "$@"; echo "{name} stopped (exit code $?); starting it again in {delay:g} s"; '
            f'sleep {delay:g}; done')
    return ["sh", "-c", loop, name, *argv]


# ops.waiting.start_after_answer in a fresh Python, whatever the working directory.
AFTER_ANSWER = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from ops.waiting import start_after_answer; start_after_answer(sys.argv[2:])")


def after_answer(url: str, argv: Sequence[str], timeout: float = 120) -> list[str]:
    """argv, started once `url` answers (any status), or after `timeout` seconds: on a small
    machine a Celery worker starting beside the web server slows its first page by seconds."""
    return [PYTHON, "-c", AFTER_ANSWER, str(REPOSITORY), url, f"{timeout:g}", *argv]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server about to start."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a process started in a session of its own, with its children: SIGTERM to the group,
    then SIGKILL if it has not ended within `timeout` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
