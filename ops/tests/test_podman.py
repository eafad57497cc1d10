"""podman as the engine: the command lines and configuration ops.podman uses."""

from __future__ import annotations

from pathlib import Path

from ops import podman


def test_the_service_listens_on_a_unix_socket_without_a_timeout():
    assert podman.service_argv(Path("/run/ls/podman.sock")) == [
        "podman", "system", "service", "--time=0", "unix:///run/ls/podman.sock"]


def test_the_configuration_avoids_what_these_sandboxes_refuse(tmp_path):
    config = podman.write_configuration(tmp_path / "state")
    text = config.read_text()
    assert text == podman.CONTAINERS_CONF
    assert "default_ulimits = []" in text
    assert 'runtime = "runc"' in text and 'cgroup_manager = "cgroupfs"' in text
    env = podman.podman_environment(config, {"PATH": "/bin"})
    assert env == {"PATH": "/bin", "CONTAINERS_CONF": str(config)}


def test_debootstrap_makes_a_minimal_debian():
    assert podman.debootstrap_argv(Path("/cache/rootfs"))[:4] == [
        "debootstrap", "--variant=minbase", "bookworm", "/cache/rootfs"]


def test_an_existing_root_filesystem_is_reused(tmp_path):
    (tmp_path / "rootfs-bookworm" / "etc").mkdir(parents=True)
    (tmp_path / "rootfs-bookworm" / "etc" / "debian_version").write_text("12.0\n")
    assert podman.debian_rootfs(tmp_path) == tmp_path / "rootfs-bookworm"


def test_the_root_filesystem_is_imported_from_standard_input_with_a_path_and_a_shell():
    assert podman.import_argv() == [
        "podman", "import",
        "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change", 'CMD ["bash"]', "-", "localhost/debian:bookworm"]
