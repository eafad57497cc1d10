"""What a message looks like in the API."""

import pytest

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
