from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.jobs import sessions_clear_expired
from application_service.celery import app


@pytest.mark.django_db
def test_beat_clears_expired_sessions_and_keeps_live_ones():
    live, expired = SessionStore(), SessionStore()
    live.create()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1))

    sessions_clear_expired.apply().get()

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_the_job_is_in_the_beat_schedule():
    entry = app.conf.beat_schedule["sessions-clear-expired"]
    assert entry["task"] == sessions_clear_expired.name == "accounts.jobs.sessions_clear_expired"
    assert entry["schedule"] == 3600
