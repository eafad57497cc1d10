"""The exact compose command lines the docker.* tasks and `dev --docker` run."""

from __future__ import annotations

import pytest

from ops import compose
from ops.errors import UserError

FILE = str(compose.COMPOSE_FILE)
BASE = ["docker", "compose", "--project-name", "little-service", "--file", FILE]


def test_the_docker_cli_plugin_is_preferred_then_the_standalone_tools():
    assert compose.program(lambda name: "/usr/bin/docker") == ["docker", "compose"]
    only_podman_compose = lambda name: "/usr/bin/x" if name == "podman-compose" else None  # noqa: E731
    assert compose.program(only_podman_compose) == ["podman-compose"]
    with pytest.raises(UserError, match="No compose tool found"):
        compose.program(lambda name: None)


def test_up_builds_and_stays_in_the_foreground():
    assert compose.up(front=["docker", "compose"]) == [*BASE, "up", "--build"]
    assert compose.up(front=["docker", "compose"], build=False, detach=True) == [*BASE, "up", "--detach"]


def test_down_keeps_the_database_volume_unless_asked():
    assert compose.down(front=["docker", "compose"]) == [*BASE, "down", "--remove-orphans"]
    assert compose.down(front=["docker", "compose"], volumes=True) == [*BASE, "down", "--remove-orphans",
                                                                       "--volumes"]


def test_shell_opens_a_django_shell_in_web_by_default():
    assert compose.shell(front=["docker", "compose"]) == [*BASE, "exec", "web", "invoke", "shell"]
    assert compose.shell(front=["podman-compose"], service="worker", command=["bash"]) == [
        "podman-compose", "--project-name", "little-service", "--file", FILE, "exec", "worker", "bash"]


def test_logs_follow_the_last_lines():
    assert compose.logs(front=["docker", "compose"]) == [*BASE, "logs", "--follow", "--tail=200"]
    assert compose.logs(front=["docker", "compose"], services=["web", "worker"], follow=False, tail=None) == [
        *BASE, "logs", "web", "worker"]
