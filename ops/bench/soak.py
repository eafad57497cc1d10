"""`invoke bench --soak`: minutes of mixed traffic at a fixed rate, and what they leave behind.

The project's gunicorn and Celery worker run as in `invoke bench` (production settings, a
throwaway database, the bench's Redis keys). locust, headless and in a process of its own (it
patches the standard library with gevent, so the bench never imports it), sends the traffic of
ops/bench/soak_traffic.py: the counter page, the counter's raise, the API's list, detail, create
(which publishes a job) and update, signed in with an API token. After a warm-up at the same
rate, the memory (RSS) of every process (gunicorn's master and workers, Celery's main process and
pool) is read, then again once the soak is over and its jobs have run.

The soak proves its work: every request answered its one expected status, the counter rose by
the counter requests that succeeded, and every message written had its job processed.
Targets: no error, and no process growing by 10% or more.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import psutil

from application_service import database
from ops.bench import data, job_rounds, load, runner, servers
from ops.bench.plan import DEFAULT_REDIS_URL, PROJECT, PROJECT_WORKER, Settings
from ops.bench.report import aligned
from ops.envvars import PYTHON, REPORTS_DIR, Environment
from ops.errors import UserError
from ops.processes import stop

REPORT = REPORTS_DIR / "bench-soak.json"
TRAFFIC = Path(__file__).with_name("soak_traffic.py")  # the locustfile
PLAN_VARIABLE = "BENCH_SOAK_PLAN"  # what soak_traffic.py reads its plan from
DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/little_service_bench_soak"
# Requests per second of each simulated client (the rate sets how many): a client waits for each
# answer, so one a second keeps the rate while answers take under a second.
USER_RATE = 1.0
MEMORY_GROWTH_LIMIT = 0.10  # of each process's RSS, from the start (after the warm-up) to the end
RATE_KEPT = 0.95  # of the rate asked: below it the table says the rate was not held (not a target)
PROGRESS_SECONDS = 15
STOP_TIMEOUT = 10  # seconds locust lets each client finish its request when the time is up
MESSAGE_SAMPLE = 500  # seeded messages the clients read and edit
COUNTER_PATHS = ("/", "/api/v1/counter/increment/")  # each success raises the counter by one
CREATE = ("POST", "/api/v1/messages/")
# What each started process is, and what its children are.
PROGRAMS = {PROJECT.name: ("gunicorn", "master", "worker"), PROJECT_WORKER.name: ("celery", "main", "pool")}
MB = 1024 * 1024


@dataclass(frozen=True)
class SoakSettings:
    """The soak's options (named as the task's flags, so that a message names the flag)."""

    soak_seconds: int = 300
    soak_rate: float = 50.0  # requests per second, all clients together
    soak_warmup: int = 15  # seconds of the same traffic before the memory is first read
    workers: int = 2  # gunicorn's
    concurrency: int = 2  # the Celery worker's prefork processes
    rows: int = 100_000  # seeded messages
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL

    @property
    def users(self) -> int:
        return max(1, math.ceil(self.soak_rate / USER_RATE))

    def bench(self) -> Settings:
        """The bench's settings for what the soak shares with it (servers, worker, databases)."""
        return Settings(workers=self.workers, concurrency=self.concurrency, rows=self.rows,
                        database_url=self.database_url, redis_url=self.redis_url)

    def check(self) -> None:
        if self.soak_seconds < 1:
            raise UserError(f"--soak-seconds must be 1 or more (got {self.soak_seconds}).")
        if self.soak_warmup < 0:
            raise UserError(f"--soak-warmup must be 0 or more (got {self.soak_warmup}).")
        if self.soak_rate <= 0:
            raise UserError(f"--soak-rate must be above 0 (got {self.soak_rate}).")
        self.bench().check()


# locust ----------------------------------------------------------------------------------------

def locust_command(host: str, *, users: int, seconds: int, csv_prefix: Path) -> list[str]:
    """Headless locust on the soak's traffic: every client started at once, for `seconds`.

    A failed request is counted by the bench, not turned into locust's exit code: a non-zero exit
    means locust itself broke.
    """
    return [PYTHON, "-m", "locust", "--locustfile", str(TRAFFIC), "--headless", "--host", host,
            "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
            "--stop-timeout", str(STOP_TIMEOUT), "--csv", str(csv_prefix), "--only-summary",
            "--exit-code-on-error", "0"]


def so_far(csv_prefix: Path) -> tuple[int, int] | None:
    """Requests and failures so far, from the CSV locust rewrites every second (None while it has
    not, or while it is half-written)."""
    with contextlib.suppress(OSError, ValueError, KeyError), \
            Path(f"{csv_prefix}_stats.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return int(row["Request Count"]), int(row["Failure Count"])
    return None


def run_traffic(name: str, project: servers.Running, environment: Environment, plan: dict,
                settings: SoakSettings, seconds: int,
                report: Callable[[float, tuple[int, int] | None], str] | None, out: TextIO) -> dict:
    """locust for `seconds`; its summary. Every PROGRESS_SECONDS, `report(elapsed, so_far)` is printed."""
    csv_prefix = servers.LOGS / name
    summary = Path(f"{csv_prefix}_summary.json")
    summary.unlink(missing_ok=True)
    argv = locust_command(project.url(""), users=settings.users, seconds=seconds, csv_prefix=csv_prefix)
    variables = {PLAN_VARIABLE: json.dumps({**plan, "summary": str(summary)})}
    locust = servers.launch(name, argv, environment.with_variables(**variables))
    started = time.monotonic()
    try:
        while True:
            try:
                locust.process.wait(timeout=PROGRESS_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - started
            if elapsed > seconds + STOP_TIMEOUT + 60:
                raise UserError(f"locust ran {elapsed:.0f}s of {seconds}s and did not stop (log: "
                                f"{locust.log}):\n{locust.tail()}")
            if report is not None:
                print(report(elapsed, so_far(csv_prefix)), file=out, flush=True)
    finally:
        stop(locust.process)
    if locust.process.returncode != 0 or not summary.exists():
        raise UserError(f"locust ended with exit code {locust.process.returncode} and "
                        f"{'a' if summary.exists() else 'no'} summary (log: {locust.log}):\n{locust.tail()}")
    return json.loads(summary.read_text())


# Memory ----------------------------------------------------------------------------------------

def sample_memory(started: dict[str, servers.Running]) -> dict[int, dict]:
    """The RSS and CPU time so far of every started process and of its children, by pid (a process
    that has ended is not there)."""
    samples: dict[int, dict] = {}
    for name, running in started.items():
        program, main, child = PROGRAMS[name]
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(running.process.pid)
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess), process.oneshot():
                    cpu = process.cpu_times()
                    samples[process.pid] = {"process": name, "program": program,
                                            "role": main if process is root else child, "pid": process.pid,
                                            "rss_bytes": process.memory_info().rss,
                                            "cpu_seconds": cpu.user + cpu.system}
    return samples


def memory_rows(start: dict[int, dict], end: dict[int, dict]) -> list[dict]:
    """Each process at start and end: its growth and the CPU time it took in between; None at the
    end for one that ended, None at the start for one that began during the soak (a replacement)."""
    rows = []
    for pid in sorted(start.keys() | end.keys()):
        first, last = start.get(pid), end.get(pid)
        before = first["rss_bytes"] if first else None
        after = last["rss_bytes"] if last else None
        growth = round((after - before) / before, 4) if before and after is not None else None
        cpu = round(last["cpu_seconds"] - first["cpu_seconds"], 2) if first and last else None
        rows.append({**{k: v for k, v in (first or last).items() if k not in ("rss_bytes", "cpu_seconds")},
                     "start_bytes": before, "end_bytes": after, "growth": growth, "cpu_seconds": cpu})
    mains = {main for _, main, _ in PROGRAMS.values()}
    return sorted(rows, key=lambda row: (row["process"], row["role"] not in mains, row["pid"]))


def memory_line(samples: dict[int, dict]) -> str:
    totals: dict[str, list[int]] = {}
    for sample in samples.values():
        totals.setdefault(sample["program"], []).append(sample["rss_bytes"])
    return ", ".join(f"{program} {sum(sizes) / MB:.0f} MB in {len(sizes)} processes"
                     for program, sizes in totals.items())


# Figures and targets ---------------------------------------------------------------------------

def endpoint(summary: dict, method: str, path: str) -> dict:
    return next((row for row in summary["endpoints"] if (row["method"], row["name"]) == (method, path)),
                {"requests": 0, "failures": 0})


def counter_requests(summary: dict) -> tuple[int, int]:
    """Counter requests that succeeded, and those that failed (which may have raised it too)."""
    rows = [endpoint(summary, "GET" if path == "/" else "POST", path) for path in COUNTER_PATHS]
    failed = sum(row["failures"] for row in rows)
    return sum(row["requests"] for row in rows) - failed, failed


def problems(report: dict) -> list[str]:
    """Each missed target or unproven work, in words (none: the soak passed)."""
    found = []
    traffic, counter, jobs = report["traffic"], report["counter"], report["jobs"]
    if traffic["requests"] == 0:
        found.append("no request was answered")
    if report["errors"]:
        found.append(f"errors: {report['errors']} ({traffic['failures']} of {traffic['requests']} requests "
                     f"failed, {report['exceptions']} exceptions in the traffic); the target is 0")
    if not counter["succeeded"] <= counter["delta"] <= counter["succeeded"] + counter["failed"]:
        found.append(f"the counter rose by {counter['delta']} for {counter['succeeded']} counter "
                     f"requests that succeeded")
    if jobs["processed"] < jobs["enqueued"]:
        found.append(f"{jobs['enqueued'] - jobs['processed']} of {jobs['enqueued']} jobs were not processed")
    for row in report["memory"]:
        who = f"{row['program']} {row['role']} (pid {row['pid']})"
        if row["end_bytes"] is None:
            found.append(f"{who} ended during the soak")
        elif row["start_bytes"] is None:
            found.append(f"{who} began during the soak (it replaced one that ended)")
        elif row["growth"] >= report["targets"]["memory_growth"]:
            found.append(f"{who} grew by {row['growth']:.1%} (target: under "
                         f"{report['targets']['memory_growth']:.0%})")
    return found


def summarize(settings: SoakSettings, summary: dict, counter_delta: int, jobs: dict,
              memory: list[dict], load_average: tuple[float, float]) -> dict:
    """The report; `load_average`: the machine's over a minute, at the start and the end (a busy
    machine lengthens every latency)."""
    succeeded, failed = counter_requests(summary)
    exceptions = sum(exc["count"] for exc in summary["exceptions"])
    total = summary["total"]
    report = {
        "settings": {**vars(settings), "users": settings.users, "user_rate": USER_RATE,
                     "database_url": database.redact(settings.database_url),
                     "redis_url": database.redact(settings.redis_url)},
        "machine": {"cpus": os.cpu_count(), "load_average": dict(zip(("start", "end"), load_average,
                                                                     strict=True))},
        "traffic": {**{key: value for key, value in total.items() if key not in ("method", "name")},
                    "seconds": summary["seconds"]},
        "endpoints": summary["endpoints"],
        "failures": summary["failures"],
        "exceptions": exceptions,
        "errors": total["failures"] + exceptions,
        "counter": {"succeeded": succeeded, "failed": failed, "delta": counter_delta},
        "jobs": jobs,
        "memory": memory,
        "targets": {"errors": 0, "memory_growth": MEMORY_GROWTH_LIMIT},
    }
    web_cpu = sum(row["cpu_seconds"] or 0 for row in memory if row["program"] == "gunicorn")
    report["traffic"]["gunicorn_cpu_ms_per_request"] = (round(web_cpu * 1000 / total["requests"], 2)
                                                        if total["requests"] else None)
    report["problems"] = problems(report)
    report["passed"] = not report["problems"]
    return report


def megabytes(size: int | None) -> str:
    return "-" if size is None else f"{size / MB:.1f} MB"


def table(report: dict) -> str:
    settings, traffic, machine = report["settings"], report["traffic"], report["machine"]
    lines = [("requests", "count", "failures", "requests/s", "p50 ms", "p95 ms", "p99 ms", "max ms")]
    for row in [*sorted(report["endpoints"], key=lambda row: (row["name"], row["method"])),
                {**traffic, "method": "all", "name": ""}]:
        lines.append((f"{row['method']} {row['name']}".rstrip(), str(row["requests"]), str(row["failures"]),
                      f"{row['requests_per_second']:.1f}", f"{row['p50_ms']}", f"{row['p95_ms']}",
                      f"{row['p99_ms']}", f"{row['max_ms']:.0f}"))
    text = [f"soak: {traffic['seconds']:.0f}s at {settings['soak_rate']:g} requests/s asked "
            f"({settings['users']} clients), {traffic['requests_per_second']:.1f} served; "
            f"{machine['cpus']} CPUs, load average {machine['load_average']['start']:.1f} at the start, "
            f"{machine['load_average']['end']:.1f} at the end; gunicorn took "
            f"{traffic['gunicorn_cpu_ms_per_request'] or 0:.1f} ms of CPU per request", "", *aligned(lines)]
    counter, jobs = report["counter"], report["jobs"]
    text += ["", f"errors: {report['errors']} (target 0)",
             f"counter: raised by {counter['delta']} for {counter['succeeded']} counter requests that "
             f"succeeded",
             f"jobs: {jobs['enqueued']} enqueued, {jobs['processed']} processed "
             f"({jobs['seconds_after_traffic']:.1f}s after the traffic ended)", ""]
    limit = report["targets"]["memory_growth"]
    memory = [("process", "pid", "RSS at start", "RSS at end", "growth", "target", "result", "CPU s")]
    for row in report["memory"]:
        growth = "-" if row["growth"] is None else f"{row['growth']:+.1%}"
        passed = row["growth"] is not None and row["growth"] < limit
        memory.append((f"{row['program']} {row['role']}", str(row["pid"]),
                       megabytes(row["start_bytes"]), megabytes(row["end_bytes"]), growth,
                       f"< {limit:.0%}", "pass" if passed else "FAIL",
                       "-" if row["cpu_seconds"] is None else f"{row['cpu_seconds']:.1f}"))
    text += aligned(memory)
    if traffic["requests_per_second"] < RATE_KEPT * settings["soak_rate"]:
        served, asked = traffic["requests_per_second"], settings["soak_rate"]
        text += ["", f"note: {served:.1f} of the {asked:g} requests/s asked were served: the clients wait "
                     f"for each answer, and answers were slow (p50 {traffic['p50_ms']} ms, p99 "
                     f"{traffic['p99_ms']} ms); the load average shows whether the machine was busy"]
    text += ["", "result: pass" if report["passed"] else "result: FAIL",
             *(f"  {problem}" for problem in report["problems"])]
    return "\n".join(text)


# The soak --------------------------------------------------------------------------------------

def wait_for_jobs(connection, last_id: int, *, timeout: float) -> dict:
    """Messages written after `last_id` and how many are processed, once all are (or at timeout)."""
    started = time.monotonic()
    while True:
        written, processed = data.messages_after(connection, last_id)
        if processed >= written or time.monotonic() - started > timeout:
            return {"enqueued": written, "processed": processed,
                    "seconds_after_traffic": round(time.monotonic() - started, 1)}
        time.sleep(0.5)


def start(started: dict, environment: Environment, settings: Settings, run_id: str, out: TextIO) -> None:
    started[PROJECT.name] = servers.start_server(PROJECT, environment, settings)
    started[PROJECT_WORKER.name] = servers.start_worker(PROJECT_WORKER, environment, settings, run_id)
    servers.wait_until_answering(started[PROJECT.name], "/")
    servers.wait_until_consuming(started[PROJECT_WORKER.name])
    print(f"  gunicorn on 127.0.0.1:{started[PROJECT.name].port} ({settings.workers} workers), "
          f"Celery worker (concurrency {settings.concurrency}) ready", file=out, flush=True)


def soak_running(started: dict[str, servers.Running], connection, environment: Environment,
                 settings: SoakSettings, password: str, out: TextIO) -> dict:
    """The warm-up, the memory, the soak, its jobs and the memory again, on the started processes;
    the report."""
    project, seconds = started[PROJECT.name], settings.soak_seconds
    plan = {"user_rate": settings.soak_rate / settings.users, "headers": servers.BEHIND_LOAD_BALANCER,
            "token": job_rounds.sign_in(project, password),
            "message_ids": data.sample_ids(connection, MESSAGE_SAMPLE)}
    if settings.soak_warmup:
        print(f"warm-up: {settings.soak_warmup}s of the same traffic, not measured", file=out, flush=True)
        run_traffic("soak-warmup", project, environment, plan, settings, settings.soak_warmup, None, out)
    first, load_at_start = sample_memory(started), os.getloadavg()[0]
    print(f"memory at the start: {memory_line(first)}", file=out, flush=True)
    read_counter = functools.partial(load.counter_value, project)
    counter_before = load.settled(read_counter)
    last_id = data.last_message_id(connection)

    def progress(elapsed: float, counts: tuple[int, int] | None) -> str:
        requests = "" if counts is None else f"{counts[0]} requests, {counts[1]} failed; "
        return (f"  soak: {elapsed:.0f}s of {seconds}s, {max(0.0, seconds - elapsed):.0f}s left: "
                f"{requests}{memory_line(sample_memory(started))}")

    print(f"soak: {seconds}s (progress every {PROGRESS_SECONDS}s)", file=out, flush=True)
    summary = run_traffic("soak", project, environment, plan, settings, seconds, progress, out)
    counter_delta = load.settled(read_counter) - counter_before
    print("waiting for the soak's jobs", file=out, flush=True)
    jobs = wait_for_jobs(connection, last_id, timeout=30 + seconds / 10)
    last = sample_memory(started)
    print(f"memory at the end: {memory_line(last)}", file=out, flush=True)
    return summarize(settings, summary, counter_delta, jobs, memory_rows(first, last),
                     (load_at_start, os.getloadavg()[0]))


def measure(c, settings: SoakSettings, out: TextIO = sys.stdout) -> dict:
    """Run the soak, print its table, write REPORT and return the report."""
    import redis as redis_client

    settings.check()
    bench = settings.bench()
    run_id = secrets.token_hex(4)
    environment = servers.bench_environment(bench, run_id)
    print(f"bench --soak: {settings.soak_seconds}s of mixed traffic at {settings.soak_rate:g} requests/s "
          f"({settings.users} locust clients) after a {settings.soak_warmup}s warm-up, on the project's "
          f"gunicorn and Celery worker under production settings; Redis keys under "
          f"{servers.key_prefix(run_id)!r}", file=out, flush=True)
    print("preparing the database (dropped and created fresh)", file=out, flush=True)
    redis = redis_client.Redis.from_url(settings.redis_url, socket_timeout=10)
    try:
        runner.prepare_database(c, environment, settings.database_url, settings.rows, out)
        password = runner.create_superuser(c, environment)
        print("starting gunicorn and the Celery worker", file=out, flush=True)
        with servers.stopping({}) as started, contextlib.closing(
                data.connect(database.parse(settings.database_url))) as connection:
            start(started, environment, bench, run_id, out)
            report = soak_running(started, connection, environment, settings, password, out)
    finally:
        data.drop_database(database.parse(settings.database_url))
        runner.delete_keys(redis, run_id)
        redis.close()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report), file=out)
    print(f"figures: {REPORT}", file=out, flush=True)
    return report
