"""The exact compose command lines the docker.* tasks and `dev --docker` run."""

from __future__ import annotations

import subprocess

import pytest

from ops import compose
from ops.errors import UserError

FILE = str(compose.COMPOSE_FILE)
BASE = ["docker", "compose", "--project-name", "little-service", "--file", FILE]


def test_the_docker_cli_plugin_is_preferred_then_the_standalone_tools():
    assert compose.program(lambda name: "/usr/bin/docker", lambda: True) == ["docker", "compose"]
    only_podman_compose = lambda name: "/usr/bin/x" if name == "podman-compose" else None  # noqa: E731
    assert compose.program(only_podman_compose, lambda: True) == ["podman-compose"]
    with pytest.raises(UserError) as refused:
        compose.program(lambda name: None, lambda: True)
    assert str(refused.value) == compose.NO_COMPOSE


def test_a_docker_cli_without_its_compose_plugin_is_not_a_compose_tool():
    def docker_and_podman_compose(name):
        return f"/usr/bin/{name}" if name in {"docker", "podman-compose"} else None

    assert compose.program(docker_and_podman_compose, lambda: False) == ["podman-compose"]
    with pytest.raises(UserError) as refused:
        compose.program(lambda name: "/usr/bin/docker" if name == "docker" else None, lambda: False)
    assert str(refused.value).startswith("No compose tool: the docker CLI has no compose plugin")
    assert "`invoke dev` serves on SQLite and the embedded broker" in str(refused.value)


def test_the_plugin_check_asks_docker_compose_version():
    asked = []

    def run(argv, **options):
        asked.append(argv)
        return subprocess.CompletedProcess(argv, 125)

    assert not compose.docker_plugin_answers(run)
    assert asked == [["docker", "compose", "version"]]


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
