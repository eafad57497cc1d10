"""The soak's traffic, run by locust (headless, in a process of its own: ops/bench/soak.py starts it).

Locust patches the standard library with gevent when it is imported, so only locust imports this
file, never the bench's process. The bench hands it a plan in the BENCH_SOAK_PLAN variable (JSON:
task runs per second per user, the headers of every request, the API token, ids of seeded
messages, where to write the summary)
and reads back the summary written when locust quits: locust's own figures, overall and per
endpoint, its failures and the exceptions raised in this file.

Each task sends exactly one request, so `constant_throughput` paces requests, not groups of them.
Every request must answer its one expected status: a redirect (a missing X-Forwarded-Proto) or
an error page is a failure, not a success.
"""

from __future__ import annotations

import collections
import json
import os
import random

from locust import FastHttpUser, constant_throughput, events, task

PLAN = json.loads(os.environ["BENCH_SOAK_PLAN"])
DETAIL = "/api/v1/messages/{id}/"
DETAIL_NAME = "/api/v1/messages/[id]/"  # one row for every id
PERCENTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}


class Client(FastHttpUser):
    """A signed-in client of the API that also opens the counter page."""

    wait_time = constant_throughput(PLAN["user_rate"])
    max_redirects = 0  # a redirect is an answer to check, not to follow
    default_headers = PLAN["headers"]  # the load balancer's, as in every bench request

    def on_start(self) -> None:
        self.api = {"Authorization": f"Token {PLAN['token']}", "Accept": "application/json"}
        self.mine: collections.deque[int] = collections.deque(maxlen=50)  # messages this client wrote

    def expect(self, method: str, path: str, status: int, *, name: str | None = None, **options):
        with self.client.request(method, path, name=name or path, catch_response=True, **options) as response:
            if response.status_code != status:
                response.failure(f"{response.status_code}, not {status}: {(response.text or '')[:200]}")
            return response

    @task(4)
    def counter_page(self) -> None:
        self.expect("GET", "/", 200)

    @task(1)
    def counter_raise(self) -> None:
        self.expect("POST", "/api/v1/counter/increment/", 200, headers=self.api)

    @task(3)
    def message_list(self) -> None:
        self.expect("GET", "/api/v1/messages/", 200, headers=self.api)

    @task(3)
    def message_detail(self) -> None:
        self.expect("GET", DETAIL.format(id=random.choice(PLAN["message_ids"])), 200, name=DETAIL_NAME,
                    headers=self.api)

    @task(2)
    def message_create(self) -> None:
        response = self.expect("POST", "/api/v1/messages/", 201, headers=self.api,
                               json={"text": "A soak message: written, enqueued, processed."})
        if response.status_code == 201:
            self.mine.append(response.json()["id"])

    @task(1)
    def message_update(self) -> None:
        message_id = random.choice(self.mine or PLAN["message_ids"])
        self.expect("PATCH", DETAIL.format(id=message_id), 200, name=DETAIL_NAME, headers=self.api,
                    json={"text": "A soak message, edited."})


def figures(entry) -> dict:
    return {"method": entry.method, "name": entry.name, "requests": entry.num_requests,
            "failures": entry.num_failures, "requests_per_second": round(entry.total_rps, 2),
            **{key: entry.get_response_time_percentile(percent) for key, percent in PERCENTILES.items()},
            "max_ms": round(entry.max_response_time, 1), "average_ms": round(entry.avg_response_time, 2)}


@events.quitting.add_listener
def write_summary(environment, **_kwargs) -> None:
    """Locust's final figures, once every user has stopped (its CSV lags by up to a second)."""
    stats = environment.stats
    last, first = stats.total.last_request_timestamp, stats.total.start_time
    summary = {
        "total": figures(stats.total),
        "seconds": round(last - first, 3) if last else 0.0,
        "endpoints": [figures(entry) for entry in stats.entries.values()],
        "failures": [error.to_dict() for error in stats.errors.values()],
        "exceptions": [{"count": exc["count"], "message": exc["msg"]}
                       for exc in environment.runner.exceptions.values()],
    }
    with open(PLAN["summary"], "w") as handle:
        json.dump(summary, handle, indent=2)
