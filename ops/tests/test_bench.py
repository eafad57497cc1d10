"""`invoke bench`: the task's options and its place, then for real, very short: every scenario on
gunicorn, MySQL, Redis, Celery and wrk."""

from __future__ import annotations

import json
import re
import sys
import uuid

import pytest
from invoke import Exit, MockContext

from ops import bench
from ops import testing as support
from ops.tasks import bench as bench_tasks


def test_no_option_of_invoke_bench_takes_the_help_or_version_flag():
    names = {name for argument in bench_tasks.run.get_arguments() for name in argument.names}
    assert {"check", "duration", "database-url"} <= names
    assert not names & {"h", "V"}
    assert all(len(name) > 1 for name in names)  # long options only


def test_invoke_bench_outside_a_checkout_says_where_it_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "ops.bench", None)  # as in the image: no ops/bench
    with pytest.raises(Exit, match="invoke bench runs from a checkout of the repository .* not inside"):
        bench_tasks.run(MockContext())


@pytest.mark.integration
def test_invoke_bench_measures_every_scenario_and_cleans_up(mysql_url, redis_url):
    """A tiny real bench through `invoke bench`; the report holds every scenario with real figures."""
    import redis

    name = f"little_service_bench_{uuid.uuid4().hex[:8]}"
    before = bench.REPORT.read_text() if bench.REPORT.exists() else None
    try:
        result = support.invoke("bench", "--duration", "1", "--rounds", "1", "--connections", "4",
                                "--jobs", "40", "--messages", "8", "--database-url", mysql_url + name,
                                timeout=150)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        report = json.loads(bench.REPORT.read_text())
        rows = {row["scenario"]: row for row in report["scenarios"]}
        assert set(rows) == {s.name for s in bench.plan.SCENARIOS}
        for row in rows.values():
            assert f"round 1 {row['scenario']}:" in result.stdout
            assert row["requests_per_second"] > 0 and row["p50_ms"] > 0
            (run,) = row["runs"]
            assert run["error_responses"] == 0 and run["requests"] > 0
            if row["scenario"] in ("counter page", "bare django"):
                assert run["requests"] <= run["counter_delta"] <= run["requests"] + 4
            if row["compare_to"]:
                assert row["ratio"] > 0 and row["round_ratios"] == [row["ratio"]]
        assert rows["api list of 100 rows"]["runs"][0]["connections"] == 1
        jobs = {row["scenario"]: row for row in report["jobs"]}
        assert set(jobs) == {s.name for s in bench.plan.JOB_SCENARIOS}
        for row in jobs.values():
            assert row["jobs_per_second"] > 0 and row["runs"][0]["jobs"] == 40
        assert jobs["project no-op job"]["ratio"] > 0
        latency = report["post_to_processed"]
        assert latency["messages"] == 8 and 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["max_ms"]
        assert "POST to processed" in result.stdout and "jobs/s" in result.stdout

        admin = support_admin(mysql_url)
        try:
            cursor = admin.cursor()
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                           "WHERE SCHEMA_NAME IN (%s, %s)", [name, f"{name}_small"])
            assert cursor.fetchall() == ()  # both databases dropped
        finally:
            admin.close()
        prefix = re.search(r"Redis keys under '([^']+)'", result.stdout).group(1)
        client = redis.Redis.from_url(bench.Settings().redis_url)
        assert list(client.scan_iter(match=f"{prefix}*")) == []  # every key of the run removed
    finally:
        if before is not None:  # the last full bench's figures stay the report
            bench.REPORT.write_text(before)


def support_admin(mysql_url: str):
    from ops.testing import mysql_admin_connection

    return mysql_admin_connection(mysql_url)
