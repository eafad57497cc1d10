"""What a message looks like in the API."""

import pytest
from django.utils import timezone

from application.api.serializers import MessageSerializer
from application.models import Message

pytestmark = pytest.mark.django_db


def test_a_message_is_written_with_its_author_and_utc_times(author):
    message = Message.objects.create(author=author, text="héllo 👋\nsecond line")
    message.refresh_from_db()
    data = MessageSerializer(message).data
    assert data == {
        "id": message.pk,
        "author": {"id": author.pk, "username": "author"},
        "text": "héllo 👋\nsecond line",
        "status": "pending",
        "created_at": message.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "updated_at": message.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_times_are_written_in_utc_whatever_time_zone_is_active(author):
    message = Message.objects.create(author=author, text="tz")
    message.refresh_from_db()
    with timezone.override("Pacific/Auckland"):
        data = MessageSerializer(message).data
    assert data["created_at"] == message.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
