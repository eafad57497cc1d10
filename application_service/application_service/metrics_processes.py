"""Prometheus' multiprocess mode in the servers: one directory per server, fresh at its start.

Each process of a server (a gunicorn worker, a Celery pool process) writes its metrics to files
in PROMETHEUS_MULTIPROC_DIR, and a scrape merges them. prometheus_client reads the variable once,
when it is first imported, so the server's first process sets it before anything imports it:
gunicorn's master in `on_starting` (gunicorn_hooks), a Celery worker's main process in
`worker_init` (connected in celery.py). A directory given in PROMETHEUS_MULTIPROC_DIR is emptied
of the last run's files; without one, a temporary directory is made and removed at the end.
This module imports only the standard library (and Django's settings), never prometheus_client.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

logger = logging.getLogger(__name__)

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

made_directory: str | None = None  # the temporary directory this process made, if any


def prepare_directory(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Point VARIABLE at an empty directory; the path when it is a temporary one made here."""
    global made_directory
    given = environ.get(VARIABLE, "")
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        # The last run's values: counters would carry on from them across a restart.
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
        return None
    if environ is os.environ and "prometheus_client" in sys.modules:
        logger.error("prometheus_client was imported before %s was set: this server's other processes' "
                     "metrics will be missing from its scrapes. Import it on first use, not at the top "
                     "of a module (see application_service/metrics.py).", VARIABLE)
    made_directory = environ[VARIABLE] = tempfile.mkdtemp(prefix="prometheus-")
    return made_directory


def remove_directory() -> None:
    """Remove the temporary directory `prepare_directory` made (a given one stays)."""
    global made_directory
    if made_directory:
        shutil.rmtree(made_directory, ignore_errors=True)
        made_directory = None


def worker_started(**kwargs) -> None:
    """Celery's worker_init, in the worker's main process before its pool starts: with METRICS_PORT
    set, the directory, the job metrics and their endpoint (the pool processes inherit all three)."""
    from django.conf import settings

    if settings.METRICS_PORT is None:
        return
    prepare_directory()  # before the first metric is made: prometheus_client is imported then
    from application_service import metrics

    metrics.serve(settings.METRICS_ADDRESS, settings.METRICS_PORT)


def worker_stopped(**kwargs) -> None:
    """Celery's worker_shutdown."""
    remove_directory()
