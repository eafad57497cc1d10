"""The bare Celery baseline for `invoke bench`: Celery's defaults, a Redis broker, one no-op.

Nothing of the project: no Django, no settings module, none of its tuning (late acks, prefetch
of one, time limits, broker timeouts). The bench runs it with the project worker's command and
concurrency (`celery --app ops.bench.references.celery_baseline worker --concurrency 2`) and
compares the bench's no-op job on the project's worker (ops.bench.references.jobs.noop) with this one.
"""

from __future__ import annotations

import functools
import os

import redis
from celery import Celery

BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

app = Celery("celery_baseline", broker=BROKER_URL)
# Isolation, not tuning: the bench's queues live under a key prefix of their own.
app.conf.broker_transport_options = {"global_keyprefix": os.environ.get("CELERY_KEY_PREFIX", "")}


@functools.cache
def counters() -> redis.Redis:
    """One client per worker process (made after the fork)."""
    return redis.Redis.from_url(BROKER_URL)


@app.task(name="ops.bench.references.celery_baseline.noop")
def noop(counter: str = "") -> None:
    """Nothing; with `counter`, add one to that Redis key, so the bench can count completions."""
    if counter:
        counters().incr(counter)
