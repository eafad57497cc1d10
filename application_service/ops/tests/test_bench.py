"""ops.bench without invoke: reading wrk, judging runs, the report, and the exact commands."""

from __future__ import annotations

import json
import uuid

import pytest

from ops import bench
from ops.environments import PROJECT_DIR, PYTHON
from ops.errors import UserError
from tests import support

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:40001/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    17.52ms    5.94ms  81.20ms   85.11%
    Req/Sec     0.92k    71.32     1.04k    78.00%
  Latency Distribution
     50%   16.48ms
     75%  950.00us
     90%   22.81ms
     99%    1.02s
  9171 requests in 10.01s, 3.07MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:    916.21
Transfer/sec:    314.10KB
"""


def test_parse_wrk_reads_rate_latency_percentiles_and_errors():
    result = bench.parse_wrk(WRK_OUTPUT)
    assert result.requests == 9171
    assert result.seconds == pytest.approx(10.01)
    assert result.requests_per_second == pytest.approx(916.21)
    assert result.latency_ms == {50: 16.48, 75: 0.95, 90: 22.81, 99: 1020.0}
    assert result.error_responses == 3
    assert result.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 1}


def test_parse_wrk_without_errors_reports_none():
    clean = "\n".join(line for line in WRK_OUTPUT.splitlines()
                      if "Non-2xx" not in line and "Socket errors" not in line)
    result = bench.parse_wrk(clean)
    assert (result.error_responses, result.socket_errors) == (0, {})


def test_parse_wrk_refuses_what_is_not_a_report():
    with pytest.raises(ValueError, match="not a wrk report"):
        bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
    without_distribution = "\n".join(line for line in WRK_OUTPUT.splitlines()
                                     if not line.strip().startswith(("50%", "99%")))
    with pytest.raises(ValueError, match="--latency"):
        bench.parse_wrk(without_distribution)


def test_ratio_and_median():
    assert bench.ratio(900, 1000) == 0.9
    assert bench.ratio(1, 3) == 0.333
    assert bench.ratio(5, 0) is None
    assert bench.median([3.0, 1.0, 2.0]) == 2.0
    assert bench.median([1.0, 2.0]) == 1.5


def test_wrk_command_is_exact():
    argv = bench.wrk_command("http://127.0.0.1:4000/", duration=10, connections=16, threads=1,
                             headers={"X-Forwarded-Proto": "https"}, wrk="/usr/bin/wrk")
    assert argv == ["/usr/bin/wrk", "--threads", "1", "--connections", "16", "--duration", "10s",
                    "--latency", "--header", "X-Forwarded-Proto: https", "http://127.0.0.1:4000/"]


def test_server_commands_are_the_serve_gunicorn_with_their_own_application():
    common = ["--chdir", str(PROJECT_DIR), "--bind", "127.0.0.1:4001", "--workers", "3",
              "--timeout", "30", "--graceful-timeout", "30", "--keep-alive", "5",
              "--access-logfile", "-", "--error-logfile", "-"]
    assert bench.server_command(bench.PROJECT, bind="127.0.0.1:4001", workers=3) == [
        PYTHON, "-m", "gunicorn", "application_service.wsgi:application", *common]
    assert bench.server_command(bench.BASELINE, bind="127.0.0.1:4001", workers=3) == [
        PYTHON, "-m", "gunicorn", "benchmarks.wsgi:application", *common]


def test_bench_environment_is_production_on_the_bench_database_with_stand_in_secrets():
    environment = bench.bench_environment("mysql://root@127.0.0.1:3306/little_service_bench",
                                          base={"SECRET_KEY": "the-real-one", "CI": "true"})
    assert environment.name == "production"
    assert environment.get("DJANGO_SETTINGS_MODULE") == "application_service.environments.production"
    assert environment.get("DATABASE_URL") == "mysql://root@127.0.0.1:3306/little_service_bench"
    assert environment.get("ALLOWED_HOSTS") == "127.0.0.1"
    assert environment.get("SECRET_KEY") not in ("", "the-real-one")
    environment.require()  # production starts with these
    baseline = bench.server_environment(environment, bench.BASELINE)
    assert baseline.get("DJANGO_SETTINGS_MODULE") == "benchmarks.baseline"
    assert bench.server_environment(environment, bench.PROJECT) is environment


def test_the_plan_compares_the_counter_page_with_the_baseline_at_0_9():
    names = [scenario.name for scenario in bench.SCENARIOS]
    assert len(set(names)) == len(names)
    page = next(s for s in bench.SCENARIOS if s.server == bench.PROJECT)
    assert (page.path, page.compare_to, page.target) == ("/", "bare django", 0.9)
    assert all(s.compare_to in (None, *names) for s in bench.SCENARIOS)
    assert next(s for s in bench.SCENARIOS if s.name == "bare django").server == bench.BASELINE


def test_rounds_alternate_the_order():
    a, b, c = bench.SCENARIOS
    assert bench.order(bench.SCENARIOS, 0) == [a, b, c]
    assert bench.order(bench.SCENARIOS, 1) == [c, b, a]
    assert bench.order(bench.SCENARIOS, 2) == [a, b, c]


def result(requests: int, errors: int = 0) -> bench.WrkResult:
    return bench.WrkResult(requests=requests, seconds=10.0, requests_per_second=requests / 10,
                           latency_ms={50: 10.0, 99: 40.0}, error_responses=errors)


def test_work_problem_accepts_the_in_flight_requests_wrk_did_not_count():
    page = bench.SCENARIOS[0]
    assert bench.work_problem(page, result(1000), 1000, connections=16) is None
    assert bench.work_problem(page, result(1000), 1016, connections=16) is None


def test_work_problem_names_redirects_errors_and_missing_work():
    page = bench.SCENARIOS[0]
    assert "rose by 0" in bench.work_problem(page, result(1000), 0, connections=16)  # e.g. 301s
    assert "rose by 1017" in bench.work_problem(page, result(1000), 1017, connections=16)
    assert "not 2xx" in bench.work_problem(page, result(1000, errors=4), 1000, connections=16)
    assert "no request" in bench.work_problem(page, result(0), 0, connections=16)


def test_summarize_takes_the_median_and_judges_the_target():
    settings = bench.Settings(rounds=3, database_url="mysql://root:secret@127.0.0.1:3306/x_bench")
    page, orm, bare = bench.SCENARIOS
    runs = [bench.Run(page.name, i, result(n), n) for i, n in enumerate((8000, 9500, 9000), 1)]
    runs += [bench.Run(orm.name, i, result(9800), 9800) for i in (1, 2, 3)]
    runs += [bench.Run(bare.name, i, result(n), n) for i, n in enumerate((10000, 12000, 9000), 1)]
    report = bench.summarize(bench.SCENARIOS, runs, settings)
    rows = {row["scenario"]: row for row in report["scenarios"]}
    assert rows["counter page"]["requests_per_second"] == 900.0
    assert rows["bare django"]["requests_per_second"] == 1000.0
    assert rows["counter page"]["ratio"] == 0.9
    assert rows["counter page"]["passed"] is True
    assert rows["django orm"]["passed"] is None
    assert rows["counter page"]["latency_ms"] == {"p50": 10.0, "p99": 40.0}
    assert len(rows["counter page"]["runs"]) == 3
    assert report["passed"] is True
    assert report["settings"]["database_url"] == "mysql://root:***@127.0.0.1:3306/x_bench"
    json.dumps(report)  # written as JSON
    text = bench.table(report)
    assert "counter page" in text and "0.90x bare django" in text and "pass" in text
    slower = [run if run.scenario != page.name else bench.Run(page.name, run.round, result(8900), 8900)
              for run in runs]
    failed = bench.summarize(bench.SCENARIOS, slower, settings)
    assert failed["passed"] is False and "FAIL" in bench.table(failed)


def test_settings_check_refuses_a_database_without_bench_in_its_name():
    with pytest.raises(UserError, match="no 'bench'"):
        bench.Settings(database_url="mysql://root@127.0.0.1:3306/little_service").check()
    with pytest.raises(UserError, match="MySQL"):
        bench.Settings(database_url="sqlite:///tmp/bench.sqlite3").check()
    with pytest.raises(UserError, match="--duration"):
        bench.Settings(duration=0).check()
    bench.Settings().check()


def test_with_options_converts_given_options_and_keeps_the_rest():
    settings = bench.with_options(bench.Settings(workers=4), duration="2", connections=None, rounds="1")
    assert (settings.duration, settings.connections, settings.workers, settings.rounds) == (2, 16, 4, 1)
    with pytest.raises(UserError, match="--duration 'ten' is not a int"):
        bench.with_options(bench.Settings(), duration="ten")


def test_require_wrk_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="apt-get install -y wrk"):
        bench.require_wrk()


@pytest.mark.integration
def test_invoke_bench_measures_both_servers_on_mysql(mysql_url, tmp_path):
    """A short real bench: gunicorn, MySQL and wrk, through `invoke bench`."""
    name = f"little_service_bench_{uuid.uuid4().hex[:8]}"
    before = bench.REPORT.read_text() if bench.REPORT.exists() else None
    try:
        result = support.invoke("bench", "--duration", "1", "--rounds", "1", "--connections", "4",
                                "--database-url", mysql_url + name, timeout=300)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        for scenario in ("counter page", "bare django"):
            assert f"round 1 {scenario}:" in result.stdout
        assert "ratio" in result.stdout
        report = json.loads(bench.REPORT.read_text())
        rows = {row["scenario"]: row for row in report["scenarios"]}
        assert rows["counter page"]["requests_per_second"] > 0
        assert rows["bare django"]["requests_per_second"] > 0
        assert rows["counter page"]["ratio"] > 0
        for row in rows.values():
            (run,) = row["runs"]
            assert run["error_responses"] == 0
            assert run["requests"] <= run["counter_delta"] <= run["requests"] + 4
        connection = support_admin(mysql_url)
        try:
            assert not connection.cursor().execute(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name])
        finally:
            connection.close()
    finally:
        if before is not None:  # the last full bench's figures stay the report
            bench.REPORT.write_text(before)


def support_admin(mysql_url: str):
    from conftest import mysql_admin_connection

    return mysql_admin_connection(mysql_url)
