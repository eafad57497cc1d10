"""Celery jobs: thin interfaces that take ids and call services (see processing.py)."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError
from django_redis import get_redis_connection

from application import processing

# Errors worth another try: the database restarting, failing over, or dropping the connection.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class MessageJob(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        processing.message_mark_failed(message_id=args[0])


@shared_task(
    base=MessageJob,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
)
def message_process(message_id: int) -> bool:
    """Process a message; safe to run twice (it is idempotent)."""
    return processing.message_process(message_id=message_id)


@shared_task
def message_sweep_pending() -> int:
    """Publish the jobs of messages that stayed pending (run by beat)."""
    return processing.message_sweep_pending()


@shared_task
def noop(counter: str = "") -> None:
    """The probe of `invoke bench` (jobs/s through the broker): nothing but the job machinery.

    With `counter`, adds one to that raw Redis key on the cache's Redis, so the bench can count
    completions; that needs the Redis cache (REDIS_URL).
    """
    if counter:
        get_redis_connection("default").incr(counter)
