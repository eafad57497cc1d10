"""podman as the engine: the command lines and configuration ops.podman uses."""

from __future__ import annotations

from pathlib import Path

from ops import podman


def test_the_service_listens_on_a_unix_socket_without_a_timeout():
    assert podman.service_argv(Path("/run/ls/podman.sock")) == [
        "podman", "system", "service", "--time=0", "unix:///run/ls/podman.sock"]


def test_the_configuration_avoids_what_these_sandboxes_refuse():
    config = podman.CONTAINERS_CONF
    assert "default_ulimits = []" in config
    assert 'runtime = "runc"' in config and 'cgroup_manager = "cgroupfs"' in config
    env = podman.service_environment(Path("/run/ls/c.conf"), {"PATH": "/bin"})
    assert env == {"PATH": "/bin", "CONTAINERS_CONF": "/run/ls/c.conf"}


def test_debootstrap_makes_a_minimal_debian():
    assert podman.debootstrap_argv(Path("/cache/rootfs"))[:4] == [
        "debootstrap", "--variant=minbase", "bookworm", "/cache/rootfs"]


def test_an_existing_root_filesystem_is_reused(tmp_path):
    (tmp_path / "rootfs-bookworm" / "etc").mkdir(parents=True)
    (tmp_path / "rootfs-bookworm" / "etc" / "debian_version").write_text("12.0\n")
    assert podman.debian_rootfs(tmp_path) == tmp_path / "rootfs-bookworm"


def test_the_imported_id_is_read_from_the_engines_reply():
    reply = '{"status":"sha256:85425e","progress":"","id":"sha256:85425e"}\n'
    assert podman._imported_id(reply) == "sha256:85425e"
