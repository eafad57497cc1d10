"""ops.bench servers, data, load and jobs without the whole bench: commands, SQL, checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from ops.bench import data, job_rounds, load, plan, servers
from ops.bench.wrk import WrkResult
from ops.envvars import PROJECT_DIR, PYTHON, REPOSITORY
from ops.errors import UserError


def test_server_commands_are_the_serve_gunicorn_with_their_own_application():
    common = ["--chdir", str(PROJECT_DIR), "--config", "python:application_service.gunicorn_hooks",
              "--bind", "127.0.0.1:4001", "--workers", "3",
              "--timeout", "30", "--graceful-timeout", "30", "--keep-alive", "5", "--error-logfile", "-"]
    assert servers.server_command(plan.PROJECT, bind="127.0.0.1:4001", workers=3) == [
        PYTHON, "-m", "gunicorn", "application_service.wsgi:application", *common]
    assert servers.server_command(plan.BASELINE, bind="127.0.0.1:4001", workers=3) == [
        PYTHON, "-m", "gunicorn", "ops.bench.references.wsgi:application", *common]


def test_worker_commands_are_the_invoke_celery_worker_with_their_own_app_and_name():
    common = ["--workdir", str(PROJECT_DIR), "worker", "--loglevel", "INFO", "--concurrency", "2"]
    assert servers.worker_command(plan.PROJECT_WORKER, concurrency=2) == [
        PYTHON, "-m", "celery", "--app", "application_service.celery", *common,
        "--include", "ops.bench.references.jobs", "--hostname", "project-worker@%h"]
    assert servers.worker_command(plan.BARE_WORKER, concurrency=2) == [
        PYTHON, "-m", "celery", "--app", "ops.bench.references.celery_baseline", *common,
        "--hostname", "bare-celery@%h"]


def test_bench_environment_is_production_on_the_bench_services_with_unlimited_throttles():
    settings = plan.Settings()
    environment = servers.bench_environment(settings, "r1", base={"SECRET_KEY": "the-real-one", "CI": "true",
                                                                  "CELERY_BROKER_URL": "redis://elsewhere/0"})
    assert environment.name == "production"
    assert environment.get("DJANGO_SETTINGS_MODULE") == "application_service.environments.production"
    assert environment.get("DATABASE_URL") == settings.database_url
    assert environment.get("REDIS_URL") == "redis://127.0.0.1:6379/13"
    assert environment.get("CELERY_BROKER_URL") == ""  # the broker is REDIS_URL's
    assert environment.get("CELERY_KEY_PREFIX") == "bench-r1:"
    assert environment.get("CACHE_KEY_PREFIX") == "bench-r1:cache"
    for scope in ("ANON", "USER", "AUTH"):
        assert environment.get(f"THROTTLE_{scope}_RATE") == servers.UNLIMITED_RATE
    assert environment.get("SECRET_KEY") not in ("", "the-real-one")
    environment.require()  # production starts with these
    baseline = servers.server_environment(environment, plan.BASELINE, settings)
    assert baseline.get("DJANGO_SETTINGS_MODULE") == "ops.bench.references.baseline"
    assert servers.server_environment(environment, plan.PROJECT, settings) is environment
    small = servers.server_environment(environment, plan.PROJECT_SMALL, settings)
    assert small.get("DATABASE_URL") == settings.small_database_url
    assert small.get("DJANGO_SETTINGS_MODULE") == "application_service.environments.production"
    assert small.get("PYTHONPATH") == environment.get("PYTHONPATH")  # the project alone


def test_the_bench_code_is_found_after_the_project_by_references_and_workers_only():
    environment = servers.bench_environment(plan.Settings(), "r1", base={"PYTHONPATH": "/extra"})
    project_first = environment.get("PYTHONPATH")
    assert project_first.split(os.pathsep)[0] == str(PROJECT_DIR)
    assert str(REPOSITORY) not in project_first.split(os.pathsep)
    with_ops = f"{project_first}{os.pathsep}{REPOSITORY}"
    for server in (plan.BASELINE, plan.BARE_DJANGO, plan.DJANGO_JSON):
        assert servers.server_environment(environment, server, plan.Settings()).get("PYTHONPATH") == with_ops
    for worker in (plan.PROJECT_WORKER, plan.BARE_WORKER):
        assert servers.worker_environment(environment, worker, "r1").get("PYTHONPATH") == with_ops


def test_the_project_worker_shares_the_servers_queues_and_the_bare_app_has_its_own():
    assert servers.key_prefix("r1", plan.PROJECT_WORKER) == servers.key_prefix("r1") == "bench-r1:"
    assert servers.key_prefix("r1", plan.BARE_WORKER) == "bench-r1:bare-celery:"
    environment = servers.bench_environment(plan.Settings(), "r1", base={})
    bare = servers.worker_environment(environment, plan.BARE_WORKER, "r1")
    assert bare.get("CELERY_KEY_PREFIX") == "bench-r1:bare-celery:"


def test_sequence_sql_counts_from_zero_to_below_count():
    sql = data.sequence_sql(100)
    assert sql.count("CROSS JOIN") == 1 and "WHERE n < 100) seq" in sql
    assert data.sequence_sql(100_000).count("CROSS JOIN") == 4  # five digits
    assert data.sequence_sql(1).count("CROSS JOIN") == 0


@pytest.mark.mysql
def test_seeding_makes_the_rows_in_order_and_the_pending_batch(mysql_url):
    from application_service import database

    name = f"little_service_bench_seed_{uuid.uuid4().hex[:6]}"
    config = database.parse(mysql_url + name)
    admin = data.connect({**config, "NAME": ""})
    admin.cursor().execute(f"CREATE DATABASE `{name}`")
    admin.close()
    connection = data.connect(config)
    try:
        with connection.cursor() as cursor:
            sequence = data.sequence_sql(1234)
            cursor.execute(f"SELECT COUNT(*), MIN(n), MAX(n), COUNT(DISTINCT n) FROM {sequence}")
            assert cursor.fetchone() == (1234, 0, 1233, 1234)
            for statement in (
                f"CREATE TABLE {data.USER_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                "password VARCHAR(128), is_superuser BOOL, username VARCHAR(150) UNIQUE, "
                "first_name VARCHAR(150), last_name VARCHAR(150), email VARCHAR(254), is_staff BOOL, "
                "is_active BOOL, date_joined DATETIME(6))",
                "CREATE TABLE application_message (id BIGINT AUTO_INCREMENT PRIMARY KEY, author_id BIGINT, "
                "text VARCHAR(500), status VARCHAR(16), created_at DATETIME(6), updated_at DATETIME(6))",
            ):
                cursor.execute(statement)
        middle = data.seed(connection, rows=1001)
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*), COUNT(DISTINCT created_at), MIN(status), MAX(status) "
                           "FROM application_message")
            assert cursor.fetchone() == (1001, 1001, "processed", "processed")
            cursor.execute("SELECT id FROM application_message ORDER BY created_at LIMIT 1 OFFSET 500")
            assert cursor.fetchone()[0] == middle
        pending = data.insert_pending(connection, 7)
        assert len(pending) == 7 and min(pending) > middle
        assert data.processed_times(connection, pending) == {}
        assert data.count_processed(connection, pending) == 0
        with connection.cursor() as cursor:
            cursor.execute("UPDATE application_message SET status = 'processed' WHERE id IN (%s, %s)",
                           pending[:2])
        assert data.count_processed(connection, pending) == 2
        assert len(data.processed_times(connection, [middle])) == 1
    finally:
        connection.close()
        data.drop_database(config)


def result(requests: int, errors: int = 0) -> WrkResult:
    return WrkResult(requests=requests, seconds=10.0, requests_per_second=requests / 10,
                     latency_ms={50: 10.0, 99: 40.0}, error_responses=errors)


def test_work_problem_accepts_the_in_flight_requests_wrk_did_not_count():
    page = plan.SCENARIOS[0]
    assert load.work_problem(page, result(1000), 1000, connections=16) is None
    assert load.work_problem(page, result(1000), 1016, connections=16) is None


def test_work_problem_names_redirects_errors_and_missing_work():
    page = plan.SCENARIOS[0]
    assert "rose by 0" in load.work_problem(page, result(1000), 0, connections=16)  # e.g. 301s
    assert "rose by 1017" in load.work_problem(page, result(1000), 1017, connections=16)
    assert "not 2xx" in load.work_problem(page, result(1000, errors=4), 1000, connections=16)
    assert "no request" in load.work_problem(page, result(0), 0, connections=16)
    api = next(s for s in plan.SCENARIOS if s.name == "api list")
    assert load.work_problem(api, result(1000), None, connections=16) is None
    assert "not 2xx" in load.work_problem(api, result(1000, errors=1), None, connections=16)


def message(pk: int) -> dict:
    return {"id": pk, "author": {"id": 1}, "text": f"m{pk}",
            "status": "processed", "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"}


def test_answers_differ_compares_the_messages_of_both_sides():
    page = json.dumps({"next": "x", "previous": None, "results": [message(2), message(1)]}).encode()
    assert load.answers_differ(page, page, 2) is None
    assert load.answers_differ(json.dumps(message(5)).encode(), json.dumps(message(5)).encode(), None) is None
    other = json.dumps({"results": [message(2), message(3)]}).encode()
    assert "but the reference" in load.answers_differ(page, other, 2)
    assert "holds 2 messages, not 20" in load.answers_differ(page, page, 20)
    assert "not the expected JSON" in load.answers_differ(b"<html>", page, 2)


def test_path_of_fills_in_the_detail_id():
    detail = next(s for s in plan.SCENARIOS if s.name == "api detail")
    assert load.path_of(detail, 50001) == "/api/v1/messages/50001/"
    assert load.path_of(plan.SCENARIOS[0], 50001) == "/"


def test_wait_for_count_returns_the_time_to_reach_the_count_or_times_out():
    counts = iter(range(10))
    seconds = job_rounds.wait_for_count(lambda: next(counts), 3, interval=0.001, timeout=5,
                                  started=time.perf_counter())
    assert 0 < seconds < 5
    with pytest.raises(TimeoutError):
        job_rounds.wait_for_count(lambda: 0, 1, interval=0.001, timeout=0.01,
                            started=time.perf_counter())


def test_a_worker_that_never_reports_ready_is_a_message(tmp_path):
    log = tmp_path / "worker.log"
    log.write_text("starting\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    with pytest.raises(UserError, match="did not report ready"):
        servers.wait_until_consuming(servers.Running("w", process, log), timeout=1)


def test_drain_waits_about_a_p99_latency_and_at_most_the_cap(monkeypatch):
    waited = []
    monkeypatch.setattr(load.time, "sleep", waited.append)
    load.drain(WrkResult(requests=1, seconds=1.0, requests_per_second=1.0,
                         latency_ms={50: 10.0, 99: 1800.0}, error_responses=0))
    load.drain(WrkResult(requests=1, seconds=1.0, requests_per_second=1.0,
                         latency_ms={50: 10.0, 99: 60_000.0}, error_responses=0))
    assert waited == [1.8, load.DRAIN_MAX_SECONDS]


def test_settled_waits_until_the_value_stops_changing():
    values = iter([1, 5, 9, 9, 12])
    assert load.settled(lambda: next(values), interval=0) == 9


def test_counter_value_is_what_the_service_answers_for_its_counter():
    import http.server
    import threading

    answers = {"status": 200}

    class Counter(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = json.dumps({"name": "any", "value": 41}).encode()
            self.send_response(answers["status"] if self.path == plan.COUNTER else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        project = servers.Running("project", None, None, port=server.server_address[1])
        assert load.counter_value(project) == 41
        answers["status"] = 301
        with pytest.raises(UserError, match=f"GET {plan.COUNTER} answered 301"):
            load.counter_value(project)
    finally:
        server.shutdown()
        server.server_close()
