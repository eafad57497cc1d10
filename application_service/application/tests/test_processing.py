"""The message-processing services (the jobs' work), on the test database."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from application import services
from application.models import Counter, Message
from application.selectors import counter_value
from application.services import message_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def author():
    return get_user_model().objects.create_user("writer", password="a-long-test-password-123")


def test_creating_a_message_enqueues_its_job_after_commit(author, django_capture_on_commit_callbacks,
                                                          monkeypatch):
    published = []
    monkeypatch.setattr(services, "message_enqueue_processing",
                        lambda *, message_id: published.append(message_id))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = message_create(author=author, text="hello")
        assert published == []  # nothing is published before the commit
    assert len(callbacks) == 1
    assert published == [message.pk]
    assert message.status == Message.Status.PENDING


def test_processing_is_idempotent(author):
    message = Message.objects.create(author=author, text="once")
    before = counter_value(name=Counter.MESSAGES_PROCESSED)
    assert services.message_process(message_id=message.pk) is True
    assert services.message_process(message_id=message.pk) is False  # a duplicate delivery
    message.refresh_from_db()
    assert message.status == Message.Status.PROCESSED
    assert counter_value(name=Counter.MESSAGES_PROCESSED) == before + 1


def test_processing_a_deleted_message_is_nothing_to_do():
    assert services.message_process(message_id=987654) is False


def test_a_failed_job_marks_the_message_failed_unless_processed(author):
    failing = Message.objects.create(author=author, text="a")
    done = Message.objects.create(author=author, text="b", status=Message.Status.PROCESSED)
    for message in (failing, done):
        services.message_mark_failed(message_id=message.pk)
        message.refresh_from_db()
    assert failing.status == Message.Status.FAILED
    assert done.status == Message.Status.PROCESSED


def test_sweep_publishes_pending_messages_past_the_grace_period(author, monkeypatch):
    published = []
    monkeypatch.setattr(services, "message_enqueue_processing",
                        lambda *, message_id: published.append(message_id) or True)
    old = Message.objects.create(author=author, text="old")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    Message.objects.create(author=author, text="fresh")
    Message.objects.create(author=author, text="done", status=Message.Status.PROCESSED)
    assert services.message_sweep_pending(grace_seconds=60) == 1
    assert published == [old.pk]


def test_enqueue_never_raises_when_the_broker_refuses(author, monkeypatch, caplog):
    from application import jobs

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(jobs.message_process, "delay", refuse)
    message = Message.objects.create(author=author, text="x")
    assert services.message_enqueue_processing(message_id=message.pk) is False
    assert "stays pending" in caplog.text
