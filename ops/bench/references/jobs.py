"""The bench's no-op job, run by the project's worker on the project's settings (`invoke bench`).

Not the product's: the bench starts the project's worker with `--include ops.bench.references.jobs`,
and the job binds to the project's Celery app as every shared job does. Its rate beside the bare
Celery no-op (celery_baseline.py) is what the project's worker settings and Django cost a job.
"""

from __future__ import annotations

from celery import shared_task
from django_redis import get_redis_connection


@shared_task(name="ops.bench.references.jobs.noop")
def noop(counter: str = "") -> None:
    """Nothing; with `counter`, add one to that raw key on the cache's Redis, so the bench can
    count completions (the bench's Redis is REDIS_URL, the cache's)."""
    if counter:
        get_redis_connection("default").incr(counter)
