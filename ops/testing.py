"""Helpers for tests that run real processes against real services."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from application_service import database
from application_service.environments import truthy
from ops.processes import free_port, stop

REPOSITORY = Path(__file__).resolve().parents[1]


def in_own_connection(function):
    """`function` for a worker thread: Django opens the thread's own database connection on first
    use, and it is closed when the call returns (the test database is dropped after the run)."""

    @functools.wraps(function)
    def call(*args, **kwargs):
        from django.db import connection

        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return call


def strict() -> bool:
    """ci: a test that cannot run is a failure, not a skip."""
    return os.environ.get("APP_ENV") == "ci" or truthy(os.environ.get("CI"))


def invoke(*arguments: str, env: dict[str, str] | None = None, timeout: float = 120,
           check: bool = False, cwd: Path = REPOSITORY) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` from the repository (or a copy of it, `cwd`), as a user would, capturing
    its output."""
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *arguments], cwd=cwd, env=env or dict(os.environ),
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
    return send(urllib.request.Request(url, headers=headers or {}), timeout)


def send(request: urllib.request.Request, timeout: float) -> Response:
    """The response, whatever its status (urllib raises for 4xx and 5xx)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Response(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read().decode(), dict(error.headers))


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


def http_json(method: str, url: str, body=None, *, token: str = "", timeout: float = 30) -> Response:
    """A JSON API call (Authorization: Token when given)."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    return send(urllib.request.Request(url, data=data, headers=headers, method=method), timeout)


def start_invoke(arguments: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`invoke ARGS` in the background, in a process group of its own, output to `log`."""
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "invoke", *arguments], cwd=REPOSITORY, env=env,
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_for_text(log: Path, text: str, *, timeout: float = 60, process: subprocess.Popen | None = None,
                  start: int = 0) -> None:
    """Wait until `text` shows in the log (after offset `start`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content[start:]:
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {text!r}:\n{content}")
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not show within {timeout}s:\n{log.read_text(errors='replace')}")


def eventually(check, *, timeout: float = 60, interval: float = 0.5, message: str = ""):
    """Call `check` until it returns a truthy value; that value, or an AssertionError on timeout.

    A connection error counts as "not yet" (a server still starting refuses connections)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as error:
            last = error
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {message} (last: {last!r})")


@contextlib.contextmanager
def running(arguments: Sequence[str], env: dict[str, str], log: Path, *, ready: str,
            timeout: float = 60) -> Iterator[subprocess.Popen]:
    """`invoke ARGS` until the block ends; waits for `ready` in its output first."""
    process = start_invoke(arguments, env, log)
    try:
        wait_for_text(log, ready, timeout=timeout, process=process)
        yield process
    finally:
        stop(process)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and its children (a crash, not a shutdown)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


# The start of a Python program (`python -c`) that makes the top-level modules its arguments name
# unimportable, as in an environment without them (the image, the runtime lock).
WITHOUT_MODULES_PREAMBLE = """
import sys
from importlib.abc import MetaPathFinder

blocked = set(sys.argv[1:])

class Blocker(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the runtime lock)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
"""


class StandInHandler(http.server.BaseHTTPRequestHandler):
    """The handler of a stand-in HTTP server (a load balancer, an advisory service, a backend):
    `reply` answers, and nothing is logged."""

    def reply(self, body: bytes, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def stand_in_server(handler: type[http.server.BaseHTTPRequestHandler],
                    server_class: type[http.server.ThreadingHTTPServer] = http.server.ThreadingHTTPServer,
                    ) -> Iterator[http.server.ThreadingHTTPServer]:
    """`handler` served on 127.0.0.1 (a free port: `server.server_address[1]`) in a thread, for
    the block."""
    server = server_class(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def redis_server(port: int, tmp_path: Path, *, password: str = "") -> Iterator[subprocess.Popen]:
    """A private redis-server on `port` (no persistence; AUTH with `password` when given), stopped
    when the block ends."""
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), *(["--requirepass", password] if password else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start on port {port}")
            time.sleep(0.1)
        yield process
    finally:
        stop(process)


class SwitchableProxy:
    """A listener on 127.0.0.1 that swallows connections (accepts, never answers: a blackholed
    broker) until `forward()`, after which new connections are piped to the target port."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.target_port = target_port
        self.forwarding = False
        self.held: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.forwarding:
                self.held.append(client)
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def forward(self) -> None:
        """The broker is back: drop the swallowed connections, forward new ones."""
        self.forwarding = True
        for held in self.held:
            with contextlib.suppress(OSError):
                held.close()
        self.held.clear()

    def close(self) -> None:
        self.listener.close()
        self.forward()


# Time

class FakeClock:
    """A clock for waits under test: `sleep` moves it on at once (call it as the clock)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


# Real services

def mysql_server_url() -> str:
    """The MySQL server for tests: DATABASE_URL's when it is MySQL, else TEST_MYSQL_URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("mysql"):
        url = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/"))


def redis_server_url() -> str:
    return os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def mysql_admin_connection(server_url: str):
    return database.connect(database.parse(server_url + "unused"), timeout=3, autocommit=True)


# API tests

def throttle_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def client_for(user):
    """An API client signed in as `user`."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def with_wrong_password(server_url: str, database: str = "little_service") -> str:
    """The MySQL server's URL with a password it refuses (`not-the-password`), naming `database`."""
    parts = urlsplit(server_url)
    netloc = f"{parts.username or 'root'}:not-the-password@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))
