"""Services for processing messages in the background (writes; the jobs in jobs.py call them).

Processing is idempotent: the job locks the message row, does nothing when it is already
processed, and commits the result and its side effects in one transaction. A job that dies
half-way commits nothing, and a duplicate delivery finds the work done.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from application.models import Message
from application.services import counter_increment

logger = logging.getLogger(__name__)

PROCESSED_COUNTER = "messages-processed"


def message_enqueue_processing(*, message_id: int) -> bool:
    """Publish the processing job; never raises. False when the broker could not take it.

    The message then stays pending and the periodic sweep publishes it again, so a broker
    outage delays processing but loses nothing and never fails the request that saved it.
    """
    from application.jobs import message_process

    try:
        message_process.delay(message_id)
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
        if settings.MESSAGE_PROCESSING_SECONDS:
            time.sleep(settings.MESSAGE_PROCESSING_SECONDS)
        message.status = Message.Status.PROCESSED
        message.save(update_fields=["status", "updated_at"])
        counter_increment(name=PROCESSED_COUNTER)
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
