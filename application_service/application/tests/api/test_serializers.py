"""What a message looks like in the API."""

import pytest
from django.utils import timezone

from application.api.serializers import MessageSerializer
from application.models import Message

pytestmark = pytest.mark.django_db


def test_a_message_is_written_with_its_author_and_utc_times(rf, author, other):
    message = Message.objects.create(author=author, text="héllo 👋\nsecond line")
    message.refresh_from_db()
    request = rf.get("/")
    request.user = other
    data = MessageSerializer(message, context={"request": request}).data
    assert data == {
        "id": message.pk,
        "author": {"id": author.pk, "username": "author"},
        "text": "héllo 👋\nsecond line",
        "status": "pending",
        "created_at": message.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "updated_at": message.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_without_a_signed_in_reader_the_author_is_the_id_alone(rf, author):
    from django.contrib.auth.models import AnonymousUser

    message = Message.objects.create(author=author, text="who wrote this?")
    request = rf.get("/")
    request.user = AnonymousUser()
    assert MessageSerializer(message, context={"request": request}).data["author"] == {"id": author.pk}
    assert MessageSerializer(message).data["author"] == {"id": author.pk}  # no request: no reader


def test_times_are_written_in_utc_whatever_time_zone_is_active(author):
    message = Message.objects.create(author=author, text="tz")
    message.refresh_from_db()
    with timezone.override("Pacific/Auckland"):
        data = MessageSerializer(message).data
    assert data["created_at"] == message.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
