"""docker compose command lines for local development (docker/docker-compose.yml)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence

from ops.envvars import REPOSITORY
from ops.errors import UserError

COMPOSE_FILE = REPOSITORY / "docker" / "docker-compose.yml"
PROJECT = "little-service"


def docker_plugin_answers(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> bool:
    """The docker CLI has its compose plugin (`docker compose version` answers)."""
    try:
        return run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


NO_COMPOSE = ("No compose tool: the docker CLI has no compose plugin (`docker compose` is not a "
              "command) and neither docker-compose nor podman-compose is installed. Install one "
              "(Docker's docker-compose-plugin package, or pip install podman-compose beside podman), "
              "or run without containers: `invoke dev` serves on SQLite and the embedded broker.")


def program(which: Callable[[str], str | None] = shutil.which,
            docker_plugin: Callable[[], bool] = docker_plugin_answers) -> list[str]:
    """The compose front end installed: the docker CLI's plugin, else docker-compose or podman-compose."""
    if which("docker") and docker_plugin():
        return ["docker", "compose"]
    for standalone in ("docker-compose", "podman-compose"):
        if which(standalone):
            return [standalone]
    raise UserError(NO_COMPOSE)


def compose(*arguments: str, front: Sequence[str]) -> list[str]:
    return [*front, "--project-name", PROJECT, "--file", str(COMPOSE_FILE), *arguments]


def up(*, front: Sequence[str], build: bool = True, detach: bool = False) -> list[str]:
    return compose("up", *(["--build"] if build else []), *(["--detach"] if detach else []),
                   front=front)


def down(*, front: Sequence[str], volumes: bool = False) -> list[str]:
    """Stop and remove the containers; the MySQL volume survives unless volumes=True."""
    return compose("down", "--remove-orphans", *(["--volumes"] if volumes else []), front=front)


def shell(*, front: Sequence[str], service: str = "web",
          command: Sequence[str] = ("invoke", "shell")) -> list[str]:
    return compose("exec", service, *command, front=front)


def logs(*, front: Sequence[str], services: Sequence[str] = (), follow: bool = True,
         tail: int | None = 200) -> list[str]:
    options = (["--follow"] if follow else []) + ([f"--tail={tail}"] if tail is not None else [])
    return compose("logs", *options, *services, front=front)
