"""The platform's own periodic jobs (accounts' are beside the user model): the queues' depth.

This package is not an installed app: celery.py has the worker find this module all the same.
"""

from __future__ import annotations

import structlog
from celery import shared_task

logger = structlog.get_logger(__name__)


@shared_task(ignore_result=True)
def queues_log_depth() -> None:
    """Log each queue's depth, one `queue_depth` line per queue, every QUEUE_DEPTH_SECONDS (beat):
    the AWS template turns these lines into the backlog metric its alarm watches, and their absence
    (beat or every worker down) counts as breaching."""
    from application_service.metrics import queue_depths

    for queue, depth in queue_depths().items():
        logger.info("queue_depth", queue=queue, depth=depth)
