"""Reads. Keyword-only, typed, named <entity>_<action>."""

from application.models import Counter
from application.services import HELLO_COUNTER


def counter_value(*, name: str = HELLO_COUNTER) -> int:
    return Counter.objects.filter(name=name).values_list("value", flat=True).first() or 0
