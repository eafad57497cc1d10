"""docker: the docker compose development stack (docker/docker-compose.yml).

Loaded inside the image too (tasks.py is its entrypoint's task list), which carries no
ops.compose: it is imported when a task runs.
"""

from __future__ import annotations

import shlex

from invoke import Collection

from ops.envvars import resolve
from ops.run import replace_process, run
from ops.tasks import from_checkout, task


def compose_commands():
    """ops.compose, which a checkout carries and the image does not."""
    return from_checkout("ops.compose", "docker.*")


@task(help={"volumes": "also remove the MySQL data volume"})
def down(c, volumes=False):
    """Stop the docker compose development stack (the data volume survives)."""
    compose = compose_commands()
    run(c, compose.down(front=compose.program(), volumes=volumes), resolve("local"))


@task(help={"service": "the compose service to enter",
            "command": 'what to run there (default "invoke shell")'})
def shell(c, service="web", command="invoke shell"):
    """Open a shell in a running compose service (a Django shell by default)."""
    compose = compose_commands()
    replace_process(compose.shell(front=compose.program(), service=service,
                                  command=shlex.split(command)), resolve("local"))


@task(iterable=["service"], help={"service": "a service to show (repeatable; default all)",
                                  "follow": "keep following new lines (default on)"})
def logs(c, service=None, follow=True):
    """Show the compose services' logs."""
    compose = compose_commands()
    replace_process(compose.logs(front=compose.program(), services=service or [], follow=follow),
                    resolve("local"))


ns = Collection("docker", down, shell, logs)
