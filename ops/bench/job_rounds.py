"""The Celery scenarios: jobs per second through Redis, and the time from POST to processed.

A batch is staged first, on a queue no worker consumes, as fast as the client can publish;
then one RENAME makes it the worker's queue at once and the clock runs until the last job has
run. So the figure is the worker's alone, not shared with the publisher's CPU. A no-op counts
itself (one INCR of a Redis key); the message job is counted by its messages that are processed
in MySQL, and every one of them must end so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from ops.bench import data
from ops.bench.plan import JobScenario, Settings, Worker, order
from ops.bench.report import Run, percentiles
from ops.bench.servers import Running, key_prefix, request
from ops.errors import UserError

STAGING_QUEUE = "bench-staging"  # consumed by no worker
WORKER_QUEUE = "celery"  # Celery's default queue, the one both workers consume
SUPERUSER = "bench-writer"


def client(redis_url: str, prefix: str):
    """A Celery client publishing into the key space of one worker (its global key prefix)."""
    from celery import Celery

    app = Celery("bench-client", broker=redis_url, set_as_current=False)
    app.conf.broker_transport_options = {"global_keyprefix": prefix}
    app.conf.broker_connection_retry_on_startup = True
    return app


def stage(app, task: str, arguments: Sequence[list]) -> None:
    with app.producer_or_acquire() as producer:
        for args in arguments:
            app.send_task(task, args=args, queue=STAGING_QUEUE, producer=producer)


def wait_for_count(read: Callable[[], int], expected: int, *, interval: float, timeout: float,
                   started: float) -> float:
    """Seconds from `started` (perf_counter) until read() reaches expected; TimeoutError after timeout."""
    deadline = started + timeout
    while True:
        if read() >= expected:
            return time.perf_counter() - started
        if time.perf_counter() > deadline:
            raise TimeoutError
        time.sleep(interval)


class JobBench:
    """Runs batches through the running workers; `redis` is a client on the bench's Redis."""

    def __init__(self, settings: Settings, run_id: str, redis, workers: dict[str, Running], database):
        self.settings = settings
        self.run_id = run_id
        self.redis = redis
        self.workers = workers
        self.database = database  # a MySQL connection (autocommit) to the bench database
        self.clients = {}

    def client_for(self, worker: Worker):
        if worker.name not in self.clients:
            self.clients[worker.name] = client(self.settings.redis_url, key_prefix(self.run_id, worker))
        return self.clients[worker.name]

    def batch(self, scenario: JobScenario, round_number: int) -> Run:
        prefix = key_prefix(self.run_id, scenario.worker)
        jobs = self.settings.jobs
        if scenario.kind == "noop":
            done_key = f"{key_prefix(self.run_id)}done:{scenario.worker.name}:{round_number}"
            arguments = [[done_key]] * jobs

            def count() -> int:
                return int(self.redis.get(done_key) or 0)
        else:
            ids = data.insert_pending(self.database, jobs)
            arguments = [[pk] for pk in ids]

            def count() -> int:
                return data.count_processed(self.database, ids)
        stage(self.client_for(scenario.worker), scenario.task, arguments)
        staged, queue = f"{prefix}{STAGING_QUEUE}", f"{prefix}{WORKER_QUEUE}"
        if self.redis.llen(staged) != jobs or self.redis.llen(queue):
            raise UserError(f"{scenario.name}: {self.redis.llen(staged)} jobs staged (not {jobs}) or "
                            f"{self.redis.llen(queue)} already waiting in {queue!r}")
        started = time.perf_counter()
        self.redis.rename(staged, queue)
        running = self.workers[scenario.worker.name]
        try:
            seconds = wait_for_count(count, jobs, interval=0.01 if scenario.kind == "noop" else 0.05,
                                     timeout=30 + jobs / 20, started=started)
        except TimeoutError:
            raise UserError(f"{scenario.name}: {count()} of {jobs} jobs ran within {30 + jobs / 20:.0f}s "
                            f"(worker log: {running.log}):\n{running.tail(10)}") from None
        counted = count()  # a no-op run twice counts twice; a message job counts its message once
        if counted != jobs:
            raise UserError(f"{scenario.name}: {jobs} jobs sent, {counted} counted (worker log: "
                            f"{running.log}):\n{running.tail(10)}")
        return Run(scenario.name, round_number, {"jobs_per_second": round(jobs / seconds, 1)},
                   {"jobs": jobs, "seconds": round(seconds, 4)})

    def measure(self, scenarios: Sequence[JobScenario], out: TextIO) -> list[Run]:
        runs: list[Run] = []
        total = self.settings.rounds * len(scenarios)
        for round_index in range(self.settings.rounds):
            for scenario in order(scenarios, round_index):
                runs.append(self.batch(scenario, round_index + 1))
                print(f"[{len(runs)}/{total}] round {round_index + 1} {scenario.name}: "
                      f"{runs[-1].figures['jobs_per_second']:.1f} jobs/s ({self.settings.jobs} jobs in "
                      f"{runs[-1].detail['seconds']:.2f}s)", file=out, flush=True)
        return runs


def api_call(server: Running, method: str, path: str, body: dict, token: str = "") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    status, answer = request(server.port, method, path, headers=headers, body=json.dumps(body).encode())
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, {"body": answer.decode(errors="replace")[:300]}


def sign_in(server: Running, password: str) -> str:
    """An API token of the bench's superuser (SUPERUSER, made by runner.create_superuser)."""
    status, answer = api_call(server, "POST", "/api/v1/auth/token/",
                              {"username": SUPERUSER, "password": password})
    if status != 200:
        raise UserError(f"POST /api/v1/auth/token/ answered {status}: {answer}")
    return answer["token"]


def post_to_processed(server: Running, worker: Running, settings: Settings, password: str,
                      database, out: TextIO) -> dict:
    """POST messages one by one at settings.message_rate; the time until each was processed."""
    token = sign_in(server, password)
    sent: dict[int, float] = {}
    interval = 1 / settings.message_rate
    start = time.monotonic()
    for index in range(settings.messages):
        time.sleep(max(0.0, start + index * interval - time.monotonic()))
        posted_at = time.time()
        status, answer = api_call(server, "POST", "/api/v1/messages/",
                                  {"text": f"bench message {index}"}, token)
        if status != 201:
            raise UserError(f"POST /api/v1/messages/ answered {status}: {answer}")
        sent[answer["id"]] = posted_at
    deadline = time.monotonic() + 30 + settings.messages / 10
    while len(processed := data.processed_times(database, list(sent))) < len(sent):
        if time.monotonic() > deadline:
            raise UserError(f"{len(processed)} of {len(sent)} posted messages were processed in "
                            f"time (worker log: {worker.log}):\n{worker.tail(10)}")
        time.sleep(0.2)
    latencies = [(processed[pk] - posted_at) * 1000 for pk, posted_at in sent.items()]
    p50, p95 = percentiles(latencies, 50, 95)
    figures = {"messages": len(sent), "rate": settings.message_rate, "p50_ms": round(p50, 1),
               "p95_ms": round(p95, 1), "max_ms": round(max(latencies), 1)}
    print(f"  POST to processed: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms",
          file=out, flush=True)
    return figures
