"""The message output is written directly (the hot path); it must match what the declared fields write."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers as drf

from application.api.serializers import MessageSerializer, iso_utc
from application.models import Message

pytestmark = pytest.mark.django_db


def declared(message: Message) -> dict:
    """What DRF's generic walk through MessageSerializer's declared fields writes."""
    serializer = MessageSerializer()
    return dict(drf.Serializer.to_representation(serializer, message))


@pytest.mark.parametrize("status", [choice for choice, _ in Message.Status.choices])
def test_direct_output_equals_the_declared_fields(author, status):
    message = Message.objects.create(author=author, text="héllo 👋\nsecond line", status=status)
    message = Message.objects.select_related("author").get(pk=message.pk)  # as stored and read
    direct = MessageSerializer(message).data
    assert direct == {**declared(message), "author": dict(declared(message)["author"])}
    assert set(direct) == set(MessageSerializer().fields)


def test_times_are_written_as_drf_writes_them():
    field = drf.DateTimeField()
    for value in (datetime(2026, 11, 28, 23, 59, 59, 123456, tzinfo=UTC),
                  datetime(2026, 1, 1, tzinfo=UTC),
                  datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))):
        assert iso_utc(value) == field.to_representation(value)
