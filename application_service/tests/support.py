"""Helpers for tests that run real processes against real services."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from application_service.environment import truthy

REPOSITORY = Path(__file__).resolve().parents[2]


def strict() -> bool:
    """ci: a test that cannot run is a failure, not a skip."""
    return os.environ.get("APP_ENV") == "ci" or truthy(os.environ.get("CI"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def invoke(*arguments: str, env: dict[str, str] | None = None, timeout: float = 120,
           check: bool = False) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` from the repository, as a user would, capturing its output."""
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *arguments], cwd=REPOSITORY, env=env or dict(os.environ),
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"invoke {' '.join(arguments)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str]

    def json(self):
        return json.loads(self.body)


def http_get(url: str, *, headers: dict[str, str] | None = None, timeout: float = 10) -> Response:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Response(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read().decode(), dict(error.headers))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until_serving(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited ({server.process.returncode}):\n{server.output()}")
        with contextlib.suppress(OSError):
            if http_get(server.url("/healthz"), timeout=2).status == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer /healthz within {timeout}s:\n{server.output()}")


@contextlib.contextmanager
def serving(env: dict[str, str], tmp_path: Path, *, workers: int = 2,
            task: tuple[str, ...] = ("serve",)) -> Iterator[Server]:
    """`invoke serve` on a free port, stopped (SIGTERM, then SIGKILL) when the block ends."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", *task, "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers)],
            cwd=REPOSITORY, env=env, stdout=handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_serving(server)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
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
