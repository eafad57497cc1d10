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


# Faults under load: a database server of the test's own to stop, and a steady load from a second process

class MariaDB:
    """A MariaDB server of a test's own (its data directory under `directory`, a free port), which
    the test may stop, crash, freeze and start again on the same port and data, as an outage
    would; the shared server is never touched. Root signs in without a password, over TCP."""

    def __init__(self, directory: Path) -> None:
        import tempfile

        self.directory = directory
        self.datadir = directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0
        # The socket's path must stay under 108 bytes, which a test's tmp_path may not.
        self.runtime = Path(tempfile.mkdtemp(prefix="mariadb-"))

    @property
    def url(self) -> str:
        """The server's URL without a database, as mysql_server_url()'s."""
        return f"mysql://root@127.0.0.1:{self.port}/"

    def as_user(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root unless told

    def install(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db", *self.as_user()],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise AssertionError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")

    def start(self, timeout: float = 60) -> None:
        """Start the server (again) on its port and data; returns once it accepts connections."""
        self.starts += 1
        log = self.directory / f"mariadbd-{self.starts}.log"
        with log.open("w") as handle:
            self.process = subprocess.Popen(
                ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={self.datadir}",
                 f"--port={self.port}", "--bind-address=127.0.0.1",
                 f"--socket={self.runtime / 'mysqld.sock'}", f"--pid-file={self.runtime / 'mysqld.pid'}",
                 "--skip-name-resolve", "--innodb-buffer-pool-size=32M", *self.as_user()],
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

        import MySQLdb

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"mariadbd exited ({self.process.returncode}):\n{log.read_text()}")
            try:
                mysql_admin_connection(self.url).close()
                return
            except MySQLdb.OperationalError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"mariadbd did not accept connections within {timeout}s:\n"
                                         f"{log.read_text()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM)."""
        stop(self.process, timeout=60)

    def crash(self) -> None:
        """SIGKILL: what the server committed must survive it."""
        kill(self.process)

    def freeze(self) -> None:
        """SIGSTOP: connections open and the port accepts, but nothing answers."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        import shutil

        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.thaw()
            stop(self.process, timeout=60)
        shutil.rmtree(self.runtime, ignore_errors=True)


@contextlib.contextmanager
def mariadb_server(directory: Path) -> Iterator[MariaDB]:
    """A fresh MariaDB of the block's own (see MariaDB), running when the block starts, stopped and
    its socket removed when it ends."""
    server = MariaDB(directory)
    try:
        server.install()
        server.start()
        yield server
    finally:
        server.close()


@dataclass
class Answer:
    """One request of a load: when it was sent (wall clock), how long it took, what came back
    (status None: no answer, `error` says why)."""

    name: str
    sent: float
    seconds: float
    status: int | None
    error: str = ""
    content_type: str = ""
    retry_after: str = ""
    body: str = ""


def paced_load(base_url: str, requests: Sequence[dict], *, rate: float, out: str, timeout: float = 30,
               seconds: float = 600) -> None:
    """Send `requests` in turn at `rate` a second, each from a thread pool (a slow answer does not
    hold the next request back), until SIGTERM or `seconds`; then wait for those in flight. Each
    answer is one JSON line (an Answer) in `out`. A request: {"name", "method", "path", "token",
    "cookie", "json"}; "{n}" in its JSON body becomes the request's sequence number (unique texts)."""
    from concurrent.futures import ThreadPoolExecutor

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    lock = threading.Lock()

    def one(number: int, spec: dict, output) -> None:
        headers = {"Accept": "application/json" if spec["path"].startswith("/api/") else "text/html"}
        data = None
        if "json" in spec:
            data = json.dumps(spec["json"]).replace("{n}", str(number)).encode()
            headers["Content-Type"] = "application/json"
        if spec.get("token"):
            headers["Authorization"] = f"Token {spec['token']}"
        if spec.get("cookie"):
            headers["Cookie"] = spec["cookie"]
        request = urllib.request.Request(base_url + spec["path"], data=data, headers=headers,
                                         method=spec.get("method", "GET"))
        sent = time.time()
        started = time.monotonic()
        try:
            response = send(request, timeout)
        except Exception as exc:  # no answer at all: refused, reset, timed out
            answer = Answer(spec["name"], sent, time.monotonic() - started, None,
                            f"{type(exc).__name__}: {exc}")
        else:
            answer = Answer(spec["name"], sent, time.monotonic() - started, response.status,
                            content_type=response.headers.get("Content-Type", ""),
                            retry_after=response.headers.get("Retry-After", ""), body=response.body[:2000])
        with lock:
            output.write(json.dumps(answer.__dict__) + "\n")
            output.flush()

    begun = time.monotonic()
    with open(out, "a") as output, ThreadPoolExecutor(max_workers=64) as pool:
        number = 0
        while not stopping.is_set() and time.monotonic() - begun < seconds:
            pool.submit(one, number, requests[number % len(requests)], output)
            number += 1
            stopping.wait(max(0.0, begun + number / rate - time.monotonic()))


class Load:
    """paced_load in a second process, from its creation to `finish` (the answers), or to the end
    of its `with` block."""

    def __init__(self, base_url: str, requests: Sequence[dict], *, rate: float, out: Path,
                 timeout: float = 30) -> None:
        self.out = out
        arguments = json.dumps({"base_url": base_url, "requests": list(requests), "rate": rate,
                                "out": str(out), "timeout": timeout})
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import json, sys; from ops.testing import paced_load; "
                                   "paced_load(**json.loads(sys.argv[1]))", arguments],
            cwd=REPOSITORY, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY / "application_service"),
                                                              str(REPOSITORY)])})

    def answers(self) -> list[Answer]:
        if not self.out.exists():
            return []
        return [Answer(**json.loads(line)) for line in self.out.read_text().splitlines() if line.strip()]

    def finish(self, timeout: float = 60) -> list[Answer]:
        """Stop sending, wait for the answers in flight; every answer, in the order they were sent."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return sorted(self.answers(), key=lambda answer: answer.sent)

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *exc_info) -> None:
        self.finish()


class Supervised:
    """`invoke ARGS` restarted whenever it exits, as its supervisor in production restarts it
    (compose's `restart: unless-stopped`, Beanstalk's container agent); `exits` holds the exit
    codes. Each run logs to its own file, LOG_STEM-N.log."""

    def __init__(self, arguments: Sequence[str], env: dict[str, str], log_stem: Path, *, ready: str,
                 timeout: float = 60) -> None:
        self.arguments, self.env, self.log_stem = list(arguments), env, log_stem
        self.exits: list[int] = []
        self.stopping = threading.Event()
        self.process = start_invoke(self.arguments, env, self.log(1))
        try:
            wait_for_text(self.log(1), ready, timeout=timeout, process=self.process)
        except BaseException:
            stop(self.process)
            raise
        self.watcher = threading.Thread(target=self.watch, daemon=True)
        self.watcher.start()

    def log(self, run: int) -> Path:
        return self.log_stem.with_name(f"{self.log_stem.name}-{run}.log")

    def watch(self) -> None:
        while not self.stopping.wait(0.5):
            if self.process.poll() is not None:
                self.exits.append(self.process.returncode)
                self.process = start_invoke(self.arguments, self.env, self.log(len(self.exits) + 1))

    def stop(self) -> None:
        self.stopping.set()
        self.watcher.join(timeout=5)
        stop(self.process)
