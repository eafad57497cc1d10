"""Writes, including the background processing of messages. Keyword-only, typed, named <entity>_<action>.

Processing is idempotent: the job locks the message row, does nothing when it is already
processed, and commits the result and its side effects in one transaction. A job that dies
half-way commits nothing, and a duplicate delivery finds the work done.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from application.jobs import message_process as message_process_job
from application.models import Counter, Message

logger = logging.getLogger(__name__)


def counter_increment(*, name: str = Counter.HELLO) -> int:
    """Raise the counter by one and return the value this call produced.

    The UPDATE is atomic in the database and holds the row's lock until the transaction ends, so
    the value read back inside the same transaction is exactly this call's, however many workers
    run at once. A counter that does not exist yet is created, outside that transaction, and the
    raise tried again.
    """
    for _ in range(2):
        with transaction.atomic():
            if Counter.objects.filter(name=name).update(value=F("value") + 1):
                return Counter.objects.values_list("value", flat=True).get(name=name)
        Counter.objects.get_or_create(name=name)
    raise Counter.DoesNotExist(f"counter {name!r} disappeared while being raised")


def message_create(*, author: AbstractBaseUser, text: str) -> Message:
    """Write a message as `author`; it starts pending, for the processing job to pick up."""
    message = Message(author=author, text=text)
    message.full_clean()
    message.save()
    # Publish only once the row is committed: a worker must find it. If the broker is down the
    # message stays pending and the periodic sweep publishes it later.
    transaction.on_commit(functools.partial(message_enqueue_processing, message_id=message.pk))
    return message


def message_update(*, message: Message, text: str | None = None) -> Message:
    """Change what is given; with nothing given, nothing is written (updated_at stays)."""
    if text is None:
        return message
    message.text = text
    message.full_clean()
    message.save(update_fields=["text", "updated_at"])
    return message


def message_delete(*, message: Message) -> None:
    message.delete()


def message_enqueue_processing(*, message_id: int) -> bool:
    """Publish the processing job; never raises. False when the broker could not take it.

    The message then stays pending and the periodic sweep publishes it again, so a broker
    outage delays processing but loses nothing and never fails the request that saved it.
    """
    try:
        message_process_job.delay(message_id)
    except Exception as exc:  # every broker error means the same here: leave it to the sweep
        logger.warning("message %s stays pending: the broker did not take its job (%s: %s)",
                       message_id, type(exc).__name__, exc)
        return False
    return True


def message_process(*, message_id: int) -> bool:
    """Process one message exactly once; False when there was nothing to do."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status == Message.Status.PROCESSED:
            return False
        message.status = Message.Status.PROCESSED
        message.save(update_fields=["status", "updated_at"])
        counter_increment(name=Counter.MESSAGES_PROCESSED)
    return True


def message_mark_failed(*, message_id: int) -> None:
    Message.objects.filter(pk=message_id).exclude(status=Message.Status.PROCESSED).update(
        status=Message.Status.FAILED, updated_at=timezone.now())


def message_sweep_pending(*, grace_seconds: int | None = None, limit: int = 1000) -> int:
    """Publish the jobs of messages left pending (broker outages); returns how many were sent."""
    grace = settings.MESSAGE_SWEEP_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    pending = (Message.objects.filter(status=Message.Status.PENDING, created_at__lte=cutoff)
               .order_by("created_at").values_list("pk", flat=True)[:limit])
    return sum(message_enqueue_processing(message_id=pk) for pk in pending)
