"""Writes. Keyword-only, typed, named <entity>_<action>."""

from django.db import transaction
from django.db.models import F

from application.models import Counter

HELLO_COUNTER = "hello"


def counter_increment(*, name: str = HELLO_COUNTER) -> int:
    """Raise the counter by one and return the value this call produced.

    The UPDATE is atomic in the database and takes the row lock, so the SELECT inside the same
    transaction reads exactly this call's value, however many workers run at once.
    """
    with transaction.atomic():
        if not Counter.objects.filter(name=name).update(value=F("value") + 1):
            Counter.objects.get_or_create(name=name)
            Counter.objects.filter(name=name).update(value=F("value") + 1)
        return Counter.objects.values_list("value", flat=True).get(name=name)
