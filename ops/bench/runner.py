"""`invoke bench` from start to end: databases, processes, the scenarios, the report."""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from collections.abc import Sequence
from typing import TextIO

from application_service import database
from ops import commands, mysql_admin
from ops.bench import data, job_rounds, load, servers
from ops.bench.plan import (
    BARE_DJANGO,
    BASELINE,
    COUNTER,
    DJANGO_JSON,
    JOB_SCENARIOS,
    PROJECT,
    PROJECT_WORKER,
    SCENARIOS,
    JobScenario,
    Scenario,
    Settings,
)
from ops.bench.report import summarize, summarize_scenarios, table
from ops.bench.wrk import require_wrk
from ops.envvars import REPORTS_DIR, Environment
from ops.run import run as run_command

REPORT = REPORTS_DIR / "bench.json"


def prepare_database(c, environment: Environment, url: str, rows: int, out: TextIO) -> int:
    """The database at `url` fresh, migrated and seeded with `rows` messages; its middle message's id."""
    config = database.parse(url)
    data.drop_database(config)
    here = environment.with_variables(DATABASE_URL=url)
    print(f"  {mysql_admin.create(here)}", file=out, flush=True)
    run_command(c, commands.migrate(), here)
    connection = data.connect(config)
    try:
        middle = data.seed(connection, rows=rows)
    finally:
        connection.close()
    print(f"  {config['NAME']}: {rows} messages", file=out, flush=True)
    return middle


def prepare_databases(c, environment: Environment, settings: Settings, out: TextIO) -> int:
    """Both databases fresh, migrated and seeded; the id the detail scenarios read."""
    detail_id = prepare_database(c, environment, settings.database_url, settings.rows, out)
    prepare_database(c, environment, settings.small_database_url, settings.small_rows, out)
    return detail_id


def create_superuser(c, environment: Environment) -> str:
    """A superuser for the POSTs, as `invoke createsuperuser` makes one; its password."""
    password = secrets.token_urlsafe(16)
    run_command(c, commands.createsuperuser(), environment.with_variables(
        DJANGO_SUPERUSER_USERNAME=job_rounds.SUPERUSER,
        DJANGO_SUPERUSER_EMAIL=f"{job_rounds.SUPERUSER}@example.com",
        DJANGO_SUPERUSER_PASSWORD=password))
    return password


def delete_keys(redis, run_id: str) -> None:
    for key in redis.scan_iter(match=f"{servers.key_prefix(run_id)}*", count=1000):
        redis.delete(key)


def start_all(started: dict, environment: Environment, settings: Settings, run_id: str,
              scenarios: Sequence[Scenario], job_scenarios: Sequence[JobScenario], detail_id: int,
              out: TextIO) -> None:
    answers = [(s.server, load.path_of(s, detail_id)) for s in scenarios]
    if any(s.counts for s in scenarios):  # the project's API answers for the counter they raise
        answers.append((PROJECT, COUNTER))
    for server in {server for server, _ in answers}:
        started[server.name] = servers.start_server(server, environment, settings)
    for worker in {s.worker for s in job_scenarios}:
        started[worker.name] = servers.start_worker(worker, environment, settings, run_id)
    for server, path in answers:
        running = started[server.name]
        servers.wait_until_answering(running, path)
        print(f"  {running.name}: {server.app} on 127.0.0.1:{running.port} answers {path} with 200",
              file=out, flush=True)
    for worker in {s.worker for s in job_scenarios}:
        servers.wait_until_consuming(started[worker.name])
        print(f"  {worker.name}: celery --app {worker.app} ready, concurrency {settings.concurrency}",
              file=out, flush=True)


def measure(c, settings: Settings, scenarios: Sequence[Scenario] = tuple(SCENARIOS),
            job_scenarios: Sequence[JobScenario] = tuple(JOB_SCENARIOS), out: TextIO = sys.stdout) -> dict:
    """Run the plan, print the table, write REPORT and return the report."""
    import redis as redis_client

    settings.check()
    wrk = require_wrk()
    run_id = secrets.token_hex(4)
    environment = servers.bench_environment(settings, run_id)
    print(f"bench: {len(scenarios)} HTTP scenarios x {settings.rounds} rounds of {settings.duration}s "
          f"({settings.connections} connections, {settings.workers} workers per server), "
          f"{len(job_scenarios)} job scenarios x {settings.rounds} batches of {settings.jobs}, "
          f"{settings.messages} messages POSTed at {settings.message_rate}/s", file=out, flush=True)
    print(f"preparing databases (dropped and created fresh); Redis keys under "
          f"{servers.key_prefix(run_id)!r}", file=out, flush=True)
    redis = redis_client.Redis.from_url(settings.redis_url, socket_timeout=10)
    http_runs, job_runs, latency = [], [], {}
    try:
        detail_id = prepare_databases(c, environment, settings, out)
        password = create_superuser(c, environment) if job_scenarios else ""
        print("starting servers and workers", file=out, flush=True)
        with servers.stopping({}) as started, contextlib.closing(
                data.connect(database.parse(settings.database_url))) as connection:
            start_all(started, environment, settings, run_id, scenarios, job_scenarios, detail_id, out)
            names = {s.server.name for s in scenarios}
            for reference in (DJANGO_JSON, BARE_DJANGO, BASELINE):
                if {PROJECT.name, reference.name} <= names:
                    load.check_same_answers(started[PROJECT.name], started[reference.name], detail_id, 20)
            if scenarios:
                http_runs = load.measure_http(wrk, started, scenarios, settings, detail_id, out)
            if job_scenarios:
                bench = job_rounds.JobBench(settings, run_id, redis, started, connection)
                job_runs = bench.measure(job_scenarios, out)
                if PROJECT.name in started and PROJECT_WORKER.name in started:
                    latency = job_rounds.post_to_processed(started[PROJECT.name],
                                                           started[PROJECT_WORKER.name],
                                                           settings, password, connection, out)
    finally:
        for url in (settings.database_url, settings.small_database_url):
            data.drop_database(database.parse(url))
        delete_keys(redis, run_id)
        redis.close()
    report = summarize(settings, summarize_scenarios(scenarios, http_runs),
                       summarize_scenarios(job_scenarios, job_runs), latency)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report), file=out)
    print(f"figures: {REPORT}", file=out, flush=True)
    return report
