"""The platform's periodic jobs (the beat schedule: CELERY_BEAT_SCHEDULE in the settings)."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task(ignore_result=True)
def sessions_clear_expired() -> None:
    """Delete expired sessions (Django's `clearsessions`, which Django leaves to the project to
    run): with sessions in the database, the table would otherwise grow with every sign-in."""
    call_command("clearsessions")
