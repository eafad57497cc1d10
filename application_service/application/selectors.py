"""Reads. Keyword-only, typed, named <entity>_<action>."""

from datetime import datetime

from django.db.models import QuerySet

from application.models import Counter, Message

# The orders a message list may take: the first field is unchanging, as cursors need.
MESSAGE_ORDERINGS = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-id": ("-id",),
    "id": ("id",),
}


def counter_value(*, name: str = Counter.HELLO) -> int:
    return Counter.objects.filter(name=name).values_list("value", flat=True).first() or 0


def message_list(*, author_id: int | None = None, status: str | None = None,
                 created_after: datetime | None = None, created_before: datetime | None = None,
                 ordering: str = "-created_at") -> QuerySet[Message]:
    """Messages with their authors: two queries for a page, however long the table.

    The authors come in a second query (prefetch) rather than a join: joined, MariaDB drives
    the query from the users table and sorts every message in a temporary table (about 100 ms
    at 100,000 rows); alone, the page is read from the (created_at, id) index in order.
    """
    messages = Message.objects.prefetch_related("author")
    if author_id is not None:
        messages = messages.filter(author_id=author_id)
    if status is not None:
        messages = messages.filter(status=status)
    if created_after is not None:
        messages = messages.filter(created_at__gte=created_after)
    if created_before is not None:
        messages = messages.filter(created_at__lt=created_before)
    return messages.order_by(*MESSAGE_ORDERINGS[ordering])


def message_get(*, message_id: int, for_update: bool = False) -> Message | None:
    """One message, or None. `for_update` (inside a transaction) locks its row until the
    transaction ends; the author is then read on first use, so that no user row is locked."""
    messages = Message.objects.select_for_update() if for_update else Message.objects.select_related("author")
    try:  # get(), not first(): first() would sort by the model's ordering to pick one row
        return messages.get(pk=message_id)
    except Message.DoesNotExist:
        return None
