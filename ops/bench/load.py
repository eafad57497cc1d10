"""The HTTP scenarios: wrk against the running servers, round after round, each run checked.

Each run proves its work: wrk saw no error answer, and where the scenario raises the counter,
the counter advanced by the requests wrk counted (a redirect or an error page would not raise
it), as the service's API reports it. Before the first round the API and every JSON reference
must give the same answers, so the two sides of a ratio do the same query.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from ops.bench.plan import COUNTER, DETAIL, LATENCY, LIST, PROJECT, RATE, Scenario, Settings, order
from ops.bench.report import Run
from ops.bench.servers import BEHIND_LOAD_BALANCER, Running, request
from ops.bench.wrk import WrkResult, run_wrk, wrk_command
from ops.errors import UserError

COMPARED_FIELDS = ("id", "author", "text", "status", "created_at", "updated_at")
FIGURES = (RATE, LATENCY, "p99_ms")  # of every run, for its scenario's metric and the report
DRAIN_MAX_SECONDS = 5.0


def drain(result: WrkResult) -> None:
    """Wait out the requests wrk left queued (about a p99 latency's worth): served after wrk stops,
    they would otherwise load the next run, always the first of a pair when the order flips."""
    time.sleep(min(result.latency_ms[99] / 1000, DRAIN_MAX_SECONDS))


def path_of(scenario: Scenario, detail_id: int) -> str:
    return scenario.path.format(id=detail_id)


def counter_value(project: Running) -> int:
    """The counter that the counter page raises, as the service answers for it (GET COUNTER)."""
    status, body = request(project.port, "GET", COUNTER, headers={"Accept": "application/json"})
    if status != 200:
        raise UserError(f"GET {COUNTER} answered {status}: {body[:300]!r}")
    return int(json.loads(body)["value"])


def settled(read: Callable[[], int], *, interval: float = 0.2, timeout: float = 10) -> int:
    """What read() gives once it stops changing: the counter once the requests still in flight
    when wrk stopped are served."""
    value = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(interval)
        again = read()
        if again == value:
            return value
        value = again
    return value


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
    if not scenario.counts or counter_delta is None:
        return None
    if not result.requests <= counter_delta <= result.requests + connections:
        return (f"{scenario.name}: wrk counted {result.requests} answers but the counter rose by "
                f"{counter_delta}; the answers were not the counter page (a redirect or an error "
                f"page does not raise it)")
    return None


def messages_of(body: dict) -> list[dict]:
    items = body.get("results", [body])
    return [{name: item.get(name) for name in COMPARED_FIELDS} for item in items]


def answers_differ(project: bytes, reference: bytes, page_size: int | None) -> str | None:
    """Why the API's and the reference's JSON do not hold the same messages (None when they do)."""
    try:
        ours, theirs = messages_of(json.loads(project)), messages_of(json.loads(reference))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"not the expected JSON ({type(exc).__name__}: {exc})"
    if page_size is not None and len(ours) != page_size:
        return f"the API's page holds {len(ours)} messages, not {page_size}"
    if ours != theirs:
        return f"the API answered {ours[:1]}... but the reference {theirs[:1]}..."
    return None


def check_same_answers(project: Running, reference: Running, detail_id: int, page_size: int) -> None:
    for path, size in ((LIST, page_size), (DETAIL.format(id=detail_id), None)):
        answers = [request(server.port, "GET", path, headers={"Accept": "application/json"})
                   for server in (project, reference)]
        statuses = [status for status, _ in answers]
        problem = (f"statuses {statuses}" if statuses != [200, 200]
                   else answers_differ(answers[0][1], answers[1][1], size))
        if problem:
            raise UserError(f"GET {path}: the API and the {reference.name} JSON view must answer the same "
                            f"messages, but {problem}")


def load(wrk: str, running: Running, scenario: Scenario, settings: Settings, duration: int,
         detail_id: int) -> WrkResult:
    argv = wrk_command(running.url(path_of(scenario, detail_id)), duration=duration,
                       connections=scenario.connections or settings.connections,
                       threads=settings.threads, headers=BEHIND_LOAD_BALANCER, wrk=wrk)
    result = run_wrk(argv, duration)
    drain(result)
    return result


def one_run(wrk: str, running: Running, scenario: Scenario, settings: Settings, project: Running | None,
            round_number: int, detail_id: int) -> Run:
    """One measured run; `project` answers for the counter (needed when the scenario counts)."""
    read_counter = functools.partial(counter_value, project)
    before = settled(read_counter) if scenario.counts else None
    result = load(wrk, running, scenario, settings, settings.duration, detail_id)
    delta = settled(read_counter) - before if scenario.counts else None
    connections = scenario.connections or settings.connections
    problem = work_problem(scenario, result, delta, connections)
    if problem:
        raise UserError(f"{problem} (server log: {running.log}):\n{running.tail(10)}")
    figures = {metric: result.figure(metric) for metric in FIGURES}
    detail = {"requests": result.requests, "seconds": result.seconds, "connections": connections,
              "latency_ms": result.latency_ms, "error_responses": result.error_responses,
              "socket_errors": result.socket_errors, "counter_delta": delta}
    return Run(scenario.name, round_number, figures, detail)


def measure_http(wrk: str, servers: dict[str, Running], scenarios: Sequence[Scenario], settings: Settings,
                 detail_id: int, out: TextIO) -> list[Run]:
    """Every round of every scenario; the project's server (PROJECT) must run when one counts."""
    project = servers.get(PROJECT.name)
    for scenario in scenarios:
        print(f"  warm-up {scenario.name} ({settings.warmup}s)", file=out, flush=True)
        load(wrk, servers[scenario.server.name], scenario, settings, settings.warmup, detail_id)
    runs: list[Run] = []
    total = settings.rounds * len(scenarios)
    for round_index in range(settings.rounds):
        for scenario in order(scenarios, round_index):
            run = one_run(wrk, servers[scenario.server.name], scenario, settings, project,
                          round_index + 1, detail_id)
            runs.append(run)
            print(f"[{len(runs)}/{total}] round {round_index + 1} {scenario.name}: "
                  f"{run.figures['requests_per_second']:.1f} requests/s, p50 {run.figures['p50_ms']:.2f} "
                  f"ms, p99 {run.figures['p99_ms']:.2f} ms ({run.detail['requests']} requests)",
                  file=out, flush=True)
    return runs
