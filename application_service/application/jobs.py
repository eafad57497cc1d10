"""Celery jobs: thin interfaces that take ids and call services.

Services import this module at the top; the jobs import the services inside their bodies, so
the dependency runs one way.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

# Errors worth another try: the database restarting, failing over, or dropping the connection.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class MessageJob(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from application.services import message_mark_failed

        message_mark_failed(message_id=args[0])


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
    from application.services import message_process

    return message_process(message_id=message_id)


@shared_task
def message_sweep_pending() -> int:
    """Publish the jobs of messages that stayed pending (run by beat)."""
    from application.services import message_sweep_pending

    return message_sweep_pending()
