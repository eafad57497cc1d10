"""gunicorn's configuration module (`invoke serve` passes --config python:application_service.gunicorn_hooks):
the service's log format for gunicorn's own lines, and the server hooks that Prometheus'
multiprocess mode needs, so that /metrics shows every worker's counts merged. gunicorn takes the
names below that are its settings and ignores the rest.
"""

from __future__ import annotations

from application_service import metrics_processes

# The arbiter's lines (booting, timed-out workers) as JSON or text like every other line; no access
# log: each request's request_finished line (application_service.logs) replaces it.
logger_class = "application_service.logs.GunicornLogger"


def on_starting(server) -> None:
    """In the master, before any worker starts: the directory every worker writes its metrics to."""
    metrics_processes.prepare_directory()


def child_exit(server, worker) -> None:
    """A worker ended (recycled, killed, timed out): its live gauges go, its counts stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    metrics_processes.remove_directory()
