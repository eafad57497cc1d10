"""Writes. Keyword-only, typed, named <entity>_<action>."""

from django.db import transaction
from django.db.models import F

from application.models import Counter

HELLO_COUNTER = "hello"


def counter_increment(*, name: str = HELLO_COUNTER) -> int:
    """Raise the counter by one and return the value this call produced.

    The UPDATE is atomic in the database and takes the row lock, so the SELECT inside the same
    transaction reads exactly this call's value, however many workers run at once. A missing
    row is created in a statement of its own first, outside the locking transaction, so that
    concurrent first uses cannot deadlock on the insert.
    """
    counter = Counter.objects.filter(name=name)
    for _ in range(2):
        with transaction.atomic():
            if counter.update(value=F("value") + 1):
                return counter.values_list("value", flat=True).get()
        Counter.objects.get_or_create(name=name)
    raise Counter.DoesNotExist(f"counter {name!r} disappeared while being raised")
