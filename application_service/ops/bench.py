"""`invoke bench`: requests/s of the project's pages beside bare Django baselines, measured by wrk.

The plan is data: SCENARIOS names, for each measurement, the server to start (a gunicorn WSGI
application and its settings) and the path to load. Every server runs the same gunicorn command
with the same workers against the same throwaway MySQL database; the scenarios run alternately,
round after round, so machine noise hits them all, and the median of the rounds counts. Each
run proves its work: wrk saw no error answer and the counter row advanced by the requests wrk
counted (a redirect or an error page would not raise it).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TextIO

from application_service import database
from ops import commands, db
from ops.environments import REPORTS_DIR, REPOSITORY, Environment, resolve
from ops.errors import UserError
from ops.run import run as run_command

PROJECT_APP = "application_service.wsgi:application"  # what commands.gunicorn serves
DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/little_service_bench"
REPORT = REPORTS_DIR / "bench.json"
LOGS = REPORTS_DIR / "bench"
# TLS ends at the load balancer, which says so; without it production redirects to https.
BEHIND_LOAD_BALANCER = {"X-Forwarded-Proto": "https"}
WRK_MISSING = ("wrk, the load generator, is not installed: apt-get install -y wrk "
               "(Debian/Ubuntu; brew install wrk on macOS), then run invoke bench again.")


@dataclass(frozen=True)
class Server:
    name: str
    app: str  # gunicorn's module:variable
    settings: str | None  # DJANGO_SETTINGS_MODULE; None: the production environment's own


PROJECT = Server("project", PROJECT_APP, None)
BASELINE = Server("baseline", "benchmarks.wsgi:application", "benchmarks.baseline")
BASELINE_ORM = Server("baseline-orm", "benchmarks.wsgi:application", "benchmarks.orm")


@dataclass(frozen=True)
class Scenario:
    name: str
    server: Server
    path: str = "/"
    counter: str | None = "hello"  # the application_counter row each request raises by one
    compare_to: str | None = None  # the scenario whose requests/s this one is divided by
    target: float | None = None  # the least acceptable ratio to compare_to


SCENARIOS: list[Scenario] = [
    Scenario("counter page", PROJECT, "/", compare_to="bare django", target=0.9),
    Scenario("django orm", BASELINE_ORM, "/", compare_to="bare django"),
    Scenario("bare django", BASELINE, "/"),
]


@dataclass(frozen=True)
class Settings:
    duration: int = 10  # seconds of load per run
    connections: int = 16
    workers: int = 2  # gunicorn workers of every server
    rounds: int = 3
    threads: int = 1  # wrk's: one thread outpaces two cores of Django; the rest serve
    warmup: int = 1  # seconds of unmeasured load per scenario before the first round
    database_url: str = DEFAULT_DATABASE_URL

    def check(self) -> None:
        for name in ("duration", "connections", "workers", "rounds", "threads"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name} must be 1 or more (got {getattr(self, name)}).")
        if self.connections < self.threads:
            raise UserError(f"--connections must be at least wrk's threads ({self.threads}).")
        config = database.parse(self.database_url)
        if config["ENGINE"] != database.MYSQL_ENGINE:
            raise UserError(f"The bench runs on MySQL: --database-url "
                            f"{database.redact(self.database_url)!r} is not mysql://...")
        if "bench" not in config["NAME"]:
            raise UserError(f"The bench drops and recreates its database; {config['NAME']!r} has "
                            f"no 'bench' in its name, so it is refused (e.g. little_service_bench).")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_second: float
    latency_ms: dict[int, float]  # percentile -> milliseconds (50, 75, 90, 99)
    error_responses: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    scenario: str
    round: int
    result: WrkResult
    counter_delta: int | None


# Commands --------------------------------------------------------------------------------------

def wrk_command(url: str, *, duration: int, connections: int, threads: int,
                headers: dict[str, str], wrk: str = "wrk") -> list[str]:
    argv = [wrk, "--threads", str(threads), "--connections", str(connections),
            "--duration", f"{duration}s", "--latency"]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    return [*argv, url]


def server_command(server: Server, *, bind: str, workers: int) -> list[str]:
    """The `invoke serve` gunicorn command, serving the server's WSGI application."""
    argv = commands.gunicorn(commands.ServerConfig(bind=bind, workers=workers))
    argv[argv.index(PROJECT_APP)] = server.app
    return argv


def bench_environment(database_url: str, base: dict[str, str] | None = None) -> Environment:
    """Production, with stand-ins for its secrets and the bench database."""
    return resolve("production", base).with_variables(
        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="127.0.0.1", DATABASE_URL=database_url,
    )


def server_environment(environment: Environment, server: Server) -> Environment:
    if server.settings is None:
        return environment
    return environment.with_variables(DJANGO_SETTINGS_MODULE=server.settings)


# Reading wrk -----------------------------------------------------------------------------------

DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: str, unit: str) -> float:
    return float(value) * DURATION_UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    """wrk's report (run with --latency) as numbers; ValueError when it is not one."""
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not total or not rate:
        raise ValueError(f"not a wrk report:\n{output}")
    latency = {int(percent): round(seconds(value, unit) * 1000, 3) for percent, value, unit
               in re.findall(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)}
    if not {50, 99} <= latency.keys():
        raise ValueError(f"wrk's report has no latency distribution (run it with --latency):\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds(total.group(2), total.group(3)),
        requests_per_second=float(rate.group(1)),
        latency_ms=latency,
        error_responses=int(errors.group(1)) if errors else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"),
                               map(int, sockets.groups()), strict=True)) if sockets else {},
    )


# Judging ---------------------------------------------------------------------------------------

def work_problem(scenario: Scenario, result: WrkResult, counter_delta: int | None,
                 connections: int) -> str | None:
    """Why the run did not do the work it claims (None when it did).

    wrk counts the answers it read; requests still in flight when it stops are served (and
    counted by the database) but not by wrk, hence up to one per connection more.
    """
    if result.requests == 0:
        return f"{scenario.name}: wrk completed no request"
    if result.error_responses:
        return (f"{scenario.name}: {result.error_responses} of {result.requests} answers were not "
                f"2xx/3xx")
    if scenario.counter is None or counter_delta is None:
        return None
    if not result.requests <= counter_delta <= result.requests + connections:
        return (f"{scenario.name}: wrk counted {result.requests} answers but the counter "
                f"{scenario.counter!r} rose by {counter_delta}; the answers were not the counter "
                f"page (a redirect or an error page does not raise it)")
    return None


def ratio(value: float, reference: float) -> float | None:
    return round(value / reference, 3) if reference > 0 else None


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def summarize(scenarios: Sequence[Scenario], runs: Sequence[Run], settings: Settings) -> dict:
    """The report: per scenario the median of its rounds, its ratio, target and verdict."""
    rows = []
    rates = {s.name: median([r.result.requests_per_second for r in runs if r.scenario == s.name])
             for s in scenarios}
    for scenario in scenarios:
        mine = [run for run in runs if run.scenario == scenario.name]
        relative = ratio(rates[scenario.name], rates[scenario.compare_to]) if scenario.compare_to else None
        passed = None if scenario.target is None else relative is not None and relative >= scenario.target
        rows.append({
            "scenario": scenario.name,
            "server": scenario.server.name,
            "app": scenario.server.app,
            "settings": scenario.server.settings or "application_service.environments.production",
            "path": scenario.path,
            "requests_per_second": rates[scenario.name],
            "latency_ms": {f"p{percent}": median([run.result.latency_ms[percent] for run in mine])
                           for percent in (50, 99)},
            "compare_to": scenario.compare_to,
            "ratio": relative,
            "target": scenario.target,
            "passed": passed,
            "runs": [{"round": run.round, **asdict(run.result), "counter_delta": run.counter_delta}
                     for run in mine],
        })
    return {
        "settings": {**asdict(settings), "database_url": database.redact(settings.database_url),
                     "statistic": f"median of {settings.rounds} rounds"},
        "scenarios": rows,
        "passed": all(row["passed"] is not False for row in rows),
    }


def table(report: dict) -> str:
    header = ("scenario", "requests/s", "p50 ms", "p99 ms", "ratio", "target", "result")
    lines = [header]
    for row in report["scenarios"]:
        lines.append((
            row["scenario"], f"{row['requests_per_second']:.1f}",
            f"{row['latency_ms']['p50']:.2f}", f"{row['latency_ms']['p99']:.2f}",
            "-" if row["ratio"] is None else f"{row['ratio']:.2f}x {row['compare_to']}",
            "-" if row["target"] is None else f"{row['target']:.2f}x",
            {True: "pass", False: "FAIL", None: "-"}[row["passed"]],
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in lines]
    settings = report["settings"]
    text.append(f"{settings['statistic']} of {settings['duration']}s each; {settings['connections']} "
                f"connections, {settings['workers']} gunicorn workers per server")
    return "\n".join(text)


def order(scenarios: Sequence[Scenario], round_index: int) -> list[Scenario]:
    """Alternate the order every round (A B C, C B A, ...): no scenario always runs first."""
    return list(scenarios) if round_index % 2 == 0 else list(reversed(scenarios))


# Running ---------------------------------------------------------------------------------------

def require_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise UserError(WRK_MISSING)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(config: dict):
    import MySQLdb

    database_name = {"database": config["NAME"]} if config["NAME"] else {}
    return MySQLdb.connect(host=config["HOST"] or "127.0.0.1", port=int(config["PORT"] or 3306),
                           user=config["USER"] or "root", passwd=config["PASSWORD"] or "",
                           connect_timeout=5, autocommit=True, **database_name)


def drop_database(config: dict) -> None:
    connection = connect({**config, "NAME": ""})
    try:
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{config['NAME'].replace('`', '``')}`")
    finally:
        connection.close()


def read_counter(connection, name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM application_counter WHERE name = %s", [name])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def settled_counter(connection, name: str, *, interval: float = 0.2, timeout: float = 10) -> int:
    """The counter once the requests still in flight when wrk stopped are served."""
    value = read_counter(connection, name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(interval)
        again = read_counter(connection, name)
        if again == value:
            return value
        value = again
    return value


@dataclass
class Running:
    server: Server
    process: subprocess.Popen
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start(server: Server, environment: Environment, workers: int) -> Running:
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{server.name}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            server_command(server, bind=f"127.0.0.1:{port}", workers=workers),
            env=server_environment(environment, server).variables, cwd=REPOSITORY,
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    return Running(server, process, port, log)


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


def get_status(port: int, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def wait_until_answering(running: Running, path: str, *, timeout: float = 60) -> None:
    """Until the server answers `path` with 200 (not a redirect, not an error page)."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise UserError(f"The {running.server.name} server exited ({running.process.returncode}):"
                            f"\n{running.tail()}")
        try:
            status = get_status(running.port, path, BEHIND_LOAD_BALANCER)
        except OSError:  # not listening yet
            time.sleep(0.2)
            continue
        if status == 200:
            return
        break  # gunicorn listens once the application is loaded: a wrong answer stays wrong
    raise UserError(f"The {running.server.name} server answered {path} with {status}, not 200 "
                    f"(log: {running.log}):\n{running.tail()}")


@contextlib.contextmanager
def servers(scenarios: Sequence[Scenario], environment: Environment,
            workers: int, out: TextIO) -> Iterator[dict[str, Running]]:
    started: dict[str, Running] = {}
    try:
        for scenario in scenarios:
            if scenario.server.name not in started:
                started[scenario.server.name] = start(scenario.server, environment, workers)
        for scenario in scenarios:
            running = started[scenario.server.name]
            wait_until_answering(running, scenario.path)
            print(f"  {scenario.server.name}: {scenario.server.app} on 127.0.0.1:{running.port} "
                  f"answers {scenario.path} with 200", file=out, flush=True)
        yield started
    finally:
        for running in started.values():
            stop(running.process)


def load(wrk: str, running: Running, scenario: Scenario, settings: Settings, duration: int) -> WrkResult:
    argv = wrk_command(running.url(scenario.path), duration=duration, connections=settings.connections,
                       threads=settings.threads, headers=BEHIND_LOAD_BALANCER, wrk=wrk)
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                               stdin=subprocess.DEVNULL, check=False)
    if completed.returncode != 0:
        raise UserError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    try:
        return parse_wrk(completed.stdout)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def prepare_database(c, environment: Environment, scenarios: Sequence[Scenario], out: TextIO) -> None:
    config = database.parse(environment.database_url)
    drop_database(config)
    print(f"  {db.create(environment)}", file=out, flush=True)
    run_command(c, commands.migrate(), environment)
    connection = connect(config)
    try:
        with connection.cursor() as cursor:
            for name in sorted({s.counter for s in scenarios if s.counter}):
                cursor.execute("INSERT IGNORE INTO application_counter (name, value) VALUES (%s, 0)",
                               [name])
    finally:
        connection.close()


def measure(c, settings: Settings, scenarios: Sequence[Scenario] = tuple(SCENARIOS),
            out: TextIO = sys.stdout) -> dict:
    """Run the plan, print the table, write REPORT and return the report."""
    settings.check()
    wrk = require_wrk()
    environment = bench_environment(settings.database_url)
    config = database.parse(settings.database_url)
    total = settings.rounds * len(scenarios)
    print(f"bench: {len(scenarios)} scenarios x {settings.rounds} rounds of {settings.duration}s, "
          f"{settings.connections} connections, {settings.workers} workers per server (about "
          f"{total * (settings.duration + 1) + len(scenarios) * settings.warmup}s of load)",
          file=out, flush=True)
    print(f"preparing database {config['NAME']!r} (dropped and created fresh)", file=out, flush=True)
    runs: list[Run] = []
    try:
        prepare_database(c, environment, scenarios, out)
        print("starting servers", file=out, flush=True)
        with servers(scenarios, environment, settings.workers, out) as started:
            counters = connect(config)
            try:
                for scenario in scenarios:
                    print(f"  warm-up {scenario.name} ({settings.warmup}s)", file=out, flush=True)
                    load(wrk, started[scenario.server.name], scenario, settings, settings.warmup)
                done = 0
                for round_index in range(settings.rounds):
                    for scenario in order(scenarios, round_index):
                        done += 1
                        runs.append(one_run(wrk, started[scenario.server.name], scenario, settings,
                                            counters, round_index + 1))
                        result = runs[-1].result
                        print(f"[{done}/{total}] round {round_index + 1} {scenario.name}: "
                              f"{result.requests_per_second:.1f} requests/s, p50 "
                              f"{result.latency_ms.get(50, 0):.2f} ms, p99 {result.latency_ms.get(99, 0):.2f}"
                              f" ms ({result.requests} requests)", file=out, flush=True)
            finally:
                counters.close()
    finally:
        drop_database(config)
    report = summarize(scenarios, runs, settings)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report), file=out)
    print(f"figures: {REPORT}", file=out, flush=True)
    return report


def one_run(wrk: str, running: Running, scenario: Scenario, settings: Settings, counters,
            round_number: int) -> Run:
    before = settled_counter(counters, scenario.counter) if scenario.counter else None
    result = load(wrk, running, scenario, settings, settings.duration)
    delta = settled_counter(counters, scenario.counter) - before if scenario.counter else None
    problem = work_problem(scenario, result, delta, settings.connections)
    if problem:
        raise UserError(f"{problem} (server log: {running.log}):\n{running.tail(10)}")
    return Run(scenario.name, round_number, result, delta)


def with_options(settings: Settings, **options: object) -> Settings:
    """The settings with each option that was given (None: keep), as the type of its default."""
    given = {}
    for name, value in options.items():
        if value is None:
            continue
        kind = type(getattr(settings, name))
        try:
            given[name] = kind(value)
        except ValueError:
            raise UserError(f"--{name.replace('_', '-')} {value!r} is not a {kind.__name__}.") from None
    return replace(settings, **given)
