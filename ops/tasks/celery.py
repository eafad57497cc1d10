"""celery: the background job worker and the beat scheduler."""

from __future__ import annotations

from invoke import Collection

from ops import commands
from ops.backing_services import django_environment
from ops.healthcheck import celery_health
from ops.run import replace_process
from ops.tasks import ENV_HELP, task

LOGLEVEL_HELP = "DEBUG, INFO, WARNING or ERROR"


def json_lines(environment) -> bool:
    """Whether the output must be JSON lines only (LOG_FORMAT=json): then no start-up banner."""
    return environment.get("LOG_FORMAT", "json") == "json"


@task(
    default=True,
    help={
        "env": ENV_HELP,
        "concurrency": "worker processes (default: one per core)",
        "queues": "comma-separated queues to consume (default: all the app's)",
        "beat": "also run the beat scheduler inside this worker (one per deployment)",
        "loglevel": LOGLEVEL_HELP,
    },
)
def worker(c, env=None, concurrency=None, queues="", beat=False, loglevel="INFO"):
    """Run a Celery worker."""
    environment = django_environment(env)
    replace_process(commands.celery_worker(
        concurrency=int(concurrency) if concurrency else None, queues=queues, beat=beat,
        loglevel=loglevel, schedule_dir=environment.embedded_broker_dir, quiet=json_lines(environment),
    ), environment)


@task(help={"env": ENV_HELP, "loglevel": LOGLEVEL_HELP})
def beat(c, env=None, loglevel="INFO"):
    """Run the Celery beat scheduler alone (only one runs at a time)."""
    environment = django_environment(env)
    replace_process(commands.celery_beat(schedule_dir=environment.embedded_broker_dir,
                                         loglevel=loglevel, quiet=json_lines(environment)), environment)


@task(help={
    "env": ENV_HELP,
    "worker": "check that this host's worker answers a ping through the broker (default on; "
              "--no-worker for beat alone)",
    "beat": "check that beat ticked lately (its heartbeat file, BEAT_HEARTBEAT_FILE, younger than "
            "BEAT_HEARTBEAT_MAX_AGE seconds): beat alone, or inside the worker",
})
def health(c, env=None, worker=True, beat=False):
    """Check that the worker answers and, with --beat, that beat ticks (a container's health check)."""
    for line in celery_health(django_environment(env), worker=worker, beat=beat):
        print(line)


ns = Collection("celery", worker, beat, health)
