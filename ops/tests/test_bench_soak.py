"""`invoke bench --soak`: the verdict from given figures, locust's command, the memory of a real
process tree, locust against a stand-in that fails one request in six, then a short soak for real
on gunicorn, Celery, MariaDB and Redis."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import uuid

import pytest
from invoke import Exit, MockContext

from ops import testing as support
from ops.bench import servers, soak
from ops.envvars import PYTHON, Environment
from ops.errors import UserError
from ops.processes import stop
from ops.tasks import bench as bench_tasks

MB = 1024 * 1024


def endpoint_row(method: str, name: str, requests: int, failures: int = 0) -> dict:
    return {"method": method, "name": name, "requests": requests, "failures": failures,
            "requests_per_second": requests / 10, "p50_ms": 5, "p95_ms": 9, "p99_ms": 12,
            "max_ms": 30.0, "average_ms": 6.0}


def locust_summary(*, failures: int = 0, exceptions: int = 0) -> dict:
    endpoints = [endpoint_row("GET", "/", 400), endpoint_row("POST", "/api/v1/counter/increment/", 100),
                 endpoint_row("GET", "/api/v1/messages/", 300, failures),
                 endpoint_row("POST", "/api/v1/messages/", 200)]
    total = endpoint_row("", "Aggregated", sum(row["requests"] for row in endpoints), failures)
    return {"total": total, "seconds": 10.0, "endpoints": endpoints,
            "failures": [{"method": "GET", "name": "/api/v1/messages/", "error": "500, not 200",
                          "occurrences": failures}] if failures else [],
            "exceptions": [{"count": exceptions, "message": "KeyError"}] if exceptions else []}


def memory(growth_of_worker: float, *, ended: bool = False) -> list[dict]:
    start = {pid: {"process": process, "program": program, "role": role, "pid": pid, "rss_bytes": size * MB,
                   "cpu_seconds": 1.0}
             for pid, process, program, role, size in ((1, "project", "gunicorn", "master", 30),
                                                       (2, "project", "gunicorn", "worker", 80),
                                                       (3, "project-worker", "celery", "main", 90))}
    end = {pid: {**sample, "cpu_seconds": 1.5} for pid, sample in start.items()}
    end[2].update(rss_bytes=round(80 * MB * (1 + growth_of_worker)), cpu_seconds=11.0)
    if ended:
        del end[3]
    return soak.memory_rows(start, end)


def report(*, failures=0, exceptions=0, growth=0.05, ended=False, counter=500, processed=200) -> dict:
    return soak.summarize(soak.SoakSettings(), locust_summary(failures=failures, exceptions=exceptions),
                          counter, {"enqueued": 200, "processed": processed, "seconds_after_traffic": 0.4},
                          memory(growth, ended=ended), (1.5, 2.3))


def test_a_clean_soak_passes_and_its_table_shows_every_figure():
    clean = report()
    assert clean["passed"] and clean["problems"] == [] and clean["errors"] == 0
    assert clean["counter"] == {"succeeded": 500, "failed": 0, "delta": 500}
    text = soak.table(clean)
    assert "result: pass" in text and "errors: 0 (target 0)" in text
    assert re.search(r"gunicorn worker\s+2\s+80\.0 MB\s+84\.0 MB\s+\+5\.0%\s+< 10%\s+pass\s+10\.0", text)
    # gunicorn's master and worker took 0.5 + 10 CPU seconds for 1000 requests
    assert clean["traffic"]["gunicorn_cpu_ms_per_request"] == 10.5
    assert "gunicorn took 10.5 ms of CPU per request" in text
    assert re.search(r"all\s+1000\s+0\s+100\.0\s+5\s+9\s+12\s+30", text)
    assert "jobs: 200 enqueued, 200 processed" in text
    assert clean["machine"]["load_average"] == {"start": 1.5, "end": 2.3}
    assert "load average 1.5 at the start, 2.3 at the end" in text
    assert "note:" not in text  # 100 requests/s served of 50 asked


def test_a_rate_not_held_is_noted_but_is_no_target():
    slow = soak.summarize(soak.SoakSettings(soak_rate=200), locust_summary(), 500,
                          {"enqueued": 200, "processed": 200, "seconds_after_traffic": 0.4}, memory(0.01),
                          (1.0, 1.0))
    assert slow["passed"]
    assert "note: 100.0 of the 200 requests/s asked were served" in soak.table(slow)


@pytest.mark.parametrize(("figures", "problem"), [
    ({"growth": 0.11}, "gunicorn worker (pid 2) grew by 11.0% (target: under 10%)"),
    ({"growth": 0.10}, "grew by 10.0%"),
    ({"failures": 3}, "errors: 3 (3 of 1000 requests failed, 0 exceptions in the traffic)"),
    ({"exceptions": 1}, "errors: 1 (0 of 1000 requests failed, 1 exceptions in the traffic)"),
    ({"ended": True}, "celery main (pid 3) ended during the soak"),
    ({"processed": 150}, "50 of 200 jobs were not processed"),
    ({"counter": 499}, "the counter rose by 499 for 500 counter requests that succeeded"),
])
def test_a_missed_target_fails_the_soak_and_says_which(figures, problem):
    missed = report(**figures)
    assert not missed["passed"]
    assert any(problem in found for found in missed["problems"]), missed["problems"]
    assert "result: FAIL" in soak.table(missed) and problem in soak.table(missed)


def test_growth_just_under_the_limit_passes():
    assert report(growth=0.099)["passed"]


def test_memory_rows_name_a_process_that_ended_and_one_that_began():
    start = {7: {"process": "project", "program": "gunicorn", "role": "worker", "pid": 7, "rss_bytes": 100,
                 "cpu_seconds": 1.0}}
    end = {8: {"process": "project", "program": "gunicorn", "role": "worker", "pid": 8, "rss_bytes": 90,
               "cpu_seconds": 2.0}}
    rows = soak.memory_rows(start, end)
    assert [(row["pid"], row["start_bytes"], row["end_bytes"], row["growth"], row["cpu_seconds"])
            for row in rows] == [(7, 100, None, None, None), (8, None, 90, None, None)]
    problems = soak.problems({**report(), "memory": rows})
    assert "gunicorn worker (pid 7) ended during the soak" in problems
    assert "gunicorn worker (pid 8) began during the soak (it replaced one that ended)" in problems


def test_locust_runs_headless_on_the_soak_traffic_at_the_clients_of_the_rate(tmp_path):
    assert soak.locust_command("http://127.0.0.1:4001", users=10, seconds=300, csv_prefix=tmp_path / "s") == [
        PYTHON, "-m", "locust", "--locustfile", str(soak.TRAFFIC), "--headless", "--host",
        "http://127.0.0.1:4001", "--users", "10", "--spawn-rate", "10", "--run-time", "300s",
        "--stop-timeout", "10", "--csv", str(tmp_path / "s"), "--only-summary", "--exit-code-on-error", "0"]
    assert soak.SoakSettings(soak_rate=50).users == 50
    assert soak.SoakSettings(soak_rate=2.5).users == 3
    assert soak.SoakSettings(soak_rate=0.5).users == 1


def test_the_soak_never_imports_locust():
    """locust patches the standard library with gevent on import: only its own process loads it."""
    code = "import sys, ops.bench, ops.bench.soak; print('locust' in sys.modules, 'gevent' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=support.REPOSITORY, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [str(support.REPOSITORY / "application_service"), str(support.REPOSITORY)])})
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(("options", "message"), [
    ({"soak_rate": 0}, "--soak-rate must be above 0"),
    ({"soak_seconds": 0}, "--soak-seconds must be 1 or more"),
    ({"soak_warmup": -1}, "--soak-warmup must be 0 or more"),
    ({"database_url": "mysql://root@127.0.0.1:3306/little_service"}, "has no 'bench' in its name"),
])
def test_soak_settings_refuse_what_cannot_run(options, message):
    with pytest.raises(UserError, match=message):
        soak.SoakSettings(**options).check()


def test_the_task_keeps_the_soak_options_and_the_paired_options_apart():
    names = {name for argument in bench_tasks.run.get_arguments() for name in argument.names}
    assert {"soak", "soak-seconds", "soak-rate", "soak-warmup"} <= names
    with pytest.raises(Exit, match="--duration, --rounds set the paired scenarios, not --soak"):
        bench_tasks.run(MockContext(), soak=True, duration="3", rounds="1")
    with pytest.raises(Exit, match="--soak-seconds only apply with --soak"):
        bench_tasks.run(MockContext(), soak_seconds="20")


def test_memory_is_read_for_the_started_process_and_each_of_its_children(tmp_path):
    child = [sys.executable, "-c", "import time; time.sleep(60)"]
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess; subprocess.run({child!r})"],
                              start_new_session=True)
    try:
        started = {"project-worker": servers.Running("project-worker", parent, tmp_path / "log")}
        samples = support.eventually(lambda: len(s := soak.sample_memory(started)) == 2 and s, timeout=30)
        main, pool = sorted(samples.values(), key=lambda sample: sample["role"])
        assert (main["pid"], main["program"], main["role"]) == (parent.pid, "celery", "main")
        assert pool["role"] == "pool" and pool["pid"] != parent.pid
        assert main["rss_bytes"] > MB and pool["rss_bytes"] > MB
        assert main["cpu_seconds"] >= 0 and pool["cpu_seconds"] >= 0  # whole clock ticks: maybe 0 yet
        assert "celery " in soak.memory_line(samples) and "in 2 processes" in soak.memory_line(samples)
    finally:
        stop(parent)
    assert soak.sample_memory(started) == {}  # ended: nothing to read


class StandIn(support.StandInHandler):
    """The project's endpoints as the soak calls them, except that the counter page answers 500."""

    seen: list[tuple[str, str, str, str]] = []
    lock = threading.Lock()

    def answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.lock:
            self.seen.append((method, self.path, self.headers.get("X-Forwarded-Proto", ""),
                              self.headers.get("Authorization", "")))
        if self.path == "/":
            self.reply(b'{"detail": "broken on purpose"}', status=500)
        elif method == "POST" and self.path == "/api/v1/messages/":
            self.reply(b'{"id": 7}', status=201)
        else:
            self.reply(b'{"value": 1}')

    def do_GET(self):  # noqa: N802 (http.server's names)
        self.answer("GET")

    def do_POST(self):  # noqa: N802
        self.answer("POST")

    def do_PATCH(self):  # noqa: N802
        self.answer("PATCH")


@pytest.mark.integration
def test_locust_counts_every_failed_answer_and_shows_progress(tmp_path, monkeypatch):
    """A real locust run of the soak's traffic: every request reaches the server with the load
    balancer's header (and the token on the API); the stand-in's 500s are failures, counted. 10
    clients at 2 requests/s for 6 s: about 120 requests, a third of them to the counter page."""
    monkeypatch.setattr(servers, "LOGS", tmp_path)
    monkeypatch.setattr(soak, "PROGRESS_SECONDS", 2)
    StandIn.seen = []
    out = io.StringIO()
    with support.stand_in_server(StandIn) as server:
        project = servers.Running("stand-in", None, tmp_path / "none.log", port=server.server_address[1])
        plan = {"user_rate": 2.0, "headers": servers.BEHIND_LOAD_BALANCER, "token": "t0ken",
                "message_ids": [3, 4]}
        summary = soak.run_traffic("soak-test", project, Environment("local", dict(os.environ)), plan,
                                   soak.SoakSettings(soak_rate=10), 6,
                                   lambda elapsed, counts: f"progress {elapsed:.0f}s {counts}", out)
    rows = {(row["method"], row["name"]): row for row in summary["endpoints"]}
    assert set(rows) == {("GET", "/"), ("POST", "/api/v1/counter/increment/"), ("GET", "/api/v1/messages/"),
                         ("GET", "/api/v1/messages/[id]/"), ("POST", "/api/v1/messages/"),
                         ("PATCH", "/api/v1/messages/[id]/")}
    page = rows["GET", "/"]
    assert page["requests"] > 0 and page["failures"] == page["requests"]
    assert summary["total"]["failures"] == page["requests"]  # nothing else failed
    assert summary["total"]["requests"] == len(StandIn.seen) > 0
    (failure,) = summary["failures"]
    assert '500, not 200: {"detail": "broken on purpose"}' in failure["error"]
    assert failure["occurrences"] == page["requests"]
    assert summary["exceptions"] == []
    assert all(proto == "https" for _, _, proto, _ in StandIn.seen)
    assert all(token == "Token t0ken" for _, path, _, token in StandIn.seen if path.startswith("/api/"))
    assert {path for method, path, _, _ in StandIn.seen if method == "PATCH"} <= {
        "/api/v1/messages/3/", "/api/v1/messages/4/", "/api/v1/messages/7/"}
    assert re.search(r"progress \d+s \((\d+), (\d+)\)", out.getvalue()), out.getvalue()


@pytest.mark.integration
def test_invoke_bench_soak_measures_real_traffic_jobs_and_memory(mysql_url, redis_url):
    """A 20-second soak at 10 requests/s through `invoke bench --soak --check`."""
    import redis

    from ops.testing import mysql_admin_connection

    name = f"little_service_bench_soak_{uuid.uuid4().hex[:8]}"
    before = soak.REPORT.read_text() if soak.REPORT.exists() else None
    try:
        result = support.invoke("bench", "--soak", "--soak-seconds", "20", "--soak-rate", "10",
                                "--soak-warmup", "3", "--database-url", mysql_url + name, "--check",
                                timeout=300)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        figures = json.loads(soak.REPORT.read_text())
        traffic = figures["traffic"]
        assert traffic["requests"] > 0 and traffic["seconds"] > 0 and traffic["requests_per_second"] > 0
        assert 0 < traffic["p50_ms"] <= traffic["p95_ms"] <= traffic["p99_ms"] <= traffic["max_ms"]
        assert len(figures["endpoints"]) == 6 and all(row["requests"] > 0 for row in figures["endpoints"])
        assert sum(row["requests"] for row in figures["endpoints"]) == traffic["requests"]
        assert figures["errors"] == traffic["failures"] == 0 and figures["failures"] == []
        counter = figures["counter"]
        assert counter["delta"] == counter["succeeded"] > 0
        creates = next(row for row in figures["endpoints"] if (row["method"], row["name"]) == soak.CREATE)
        assert figures["jobs"]["enqueued"] == figures["jobs"]["processed"] == creates["requests"]
        roles = sorted((row["program"], row["role"]) for row in figures["memory"])
        workers, concurrency = figures["settings"]["workers"], figures["settings"]["concurrency"]
        assert roles == sorted([("gunicorn", "master"), *[("gunicorn", "worker")] * workers,
                                ("celery", "main"), *[("celery", "pool")] * concurrency])
        for row in figures["memory"]:
            assert row["start_bytes"] > MB and row["end_bytes"] > MB
            assert row["growth"] == round((row["end_bytes"] - row["start_bytes"]) / row["start_bytes"], 4)
            assert row["cpu_seconds"] >= 0
        assert sum(row["cpu_seconds"] for row in figures["memory"] if row["role"] == "worker") > 0
        assert traffic["gunicorn_cpu_ms_per_request"] > 0
        assert figures["passed"] and figures["problems"] == []
        assert re.search(r"soak: \d+s of 20s, \d+s left: \d+ requests, 0 failed; gunicorn", result.stdout)
        assert "memory at the start: gunicorn" in result.stdout and "result: pass" in result.stdout

        admin = mysql_admin_connection(mysql_url)
        try:
            cursor = admin.cursor()
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                           [name])
            assert cursor.fetchall() == ()  # dropped
        finally:
            admin.close()
        prefix = re.search(r"Redis keys under '([^']+)'", result.stdout).group(1)
        assert list(redis.Redis.from_url(soak.DEFAULT_REDIS_URL).scan_iter(match=f"{prefix}*")) == []
    finally:
        if before is not None:  # the last full soak's figures stay the report
            soak.REPORT.write_text(before)
