"""podman as the engine where no Docker runs: its configuration here, its API, a local base image.

On machines that cannot run crun or raise rlimits (see README, "Docker and CI"), podman runs
with runc, the cgroupfs manager and no default ulimits: its commands (`podman build`, `podman
push`) and its API service (which serves the docker SDK the container tests run containers
with) read that configuration through CONTAINERS_CONF. Where no registry can be reached, a
Debian base image is made with debootstrap and imported, and the Dockerfile installs Debian's
python3 on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ops.errors import UserError
from ops.waiting import poll

CONTAINERS_CONF = """\
# Written by Little Service (ops/podman.py) for the podman it runs.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""
DEBIAN_SUITE = "bookworm"
DEBIAN_IMAGE = f"localhost/debian:{DEBIAN_SUITE}"
CACHE = Path(os.environ.get("LITTLE_SERVICE_CACHE", "/var/cache/little-service"))
# Trimmed like Debian's -slim images: the image needs none of these.
TRIMMED = ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*",
           "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*")


def available() -> bool:
    return all(shutil.which(program) for program in ("podman", "runc"))


def service_argv(socket: Path) -> list[str]:
    return ["podman", "system", "service", "--time=0", f"unix://{socket}"]


def write_configuration(directory: Path) -> Path:
    """CONTAINERS_CONF written in `directory`, for podman_environment."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "containers.conf"
    config.write_text(CONTAINERS_CONF)
    return config


def podman_environment(config: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a podman command runs with: these plus CONTAINERS_CONF naming `config`."""
    return {**(os.environ if environ is None else environ), "CONTAINERS_CONF": str(config)}


def start_service(state: Path, *, timeout: float = 30) -> tuple[subprocess.Popen, str]:
    """Start podman's API service on a socket in `state`; return the process and DOCKER_HOST."""
    if not available():
        raise UserError("podman and runc are not installed: apt-get install -y podman runc.")
    config, socket = write_configuration(state), state / "podman.sock"
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()
    log = (state / "service.log").open("w")
    process = subprocess.Popen(service_argv(socket), env=podman_environment(config), stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    docker_host = f"unix://{socket}"

    def answered() -> bool:
        if process.poll() is not None:
            raise UserError(f"podman system service exited ({process.returncode}); see {log.name}.")
        return socket.exists() and responds(docker_host)

    finished, _ = poll(answered, done=bool, timeout=timeout, interval=0.2)
    if finished:
        return process, docker_host
    process.terminate()
    raise UserError(f"podman's API did not answer on {socket} within {timeout:g}s; see {log.name}.")


def responds(docker_host: str) -> bool:
    import docker

    try:
        client = docker.DockerClient(base_url=docker_host, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # not up yet: connection refused, half-open socket
        return False


def debootstrap_argv(target: Path, suite: str = DEBIAN_SUITE) -> list[str]:
    """With debootstrap's default mirror for the suite."""
    return ["debootstrap", "--variant=minbase", suite, str(target)]


def debian_rootfs(cache: Path = CACHE, suite: str = DEBIAN_SUITE) -> Path:
    """A trimmed Debian root filesystem, made once with debootstrap and kept in `cache`."""
    rootfs = cache / f"rootfs-{suite}"
    if (rootfs / "etc" / "debian_version").exists():
        return rootfs
    if not shutil.which("debootstrap"):
        raise UserError("debootstrap is not installed: apt-get install -y debootstrap.")
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"rootfs-{suite}-", dir=cache))
    try:
        result = subprocess.run(debootstrap_argv(partial, suite), capture_output=True, text=True)
        if result.returncode != 0:
            raise UserError(f"debootstrap failed ({result.returncode}): {result.stdout[-2000:]}"
                            f"{result.stderr[-2000:]}")
        for pattern in TRIMMED:
            for path in partial.glob(pattern):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        partial.rename(rootfs)  # complete or absent: a killed run leaves only a temporary folder
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return rootfs


def import_argv(reference: str = DEBIAN_IMAGE) -> list[str]:
    """`podman import` of a root filesystem tar read from standard input, as a usable base image."""
    return ["podman", "import",
            "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change", 'CMD ["bash"]', "-", reference]


def debian_image(cache: Path = CACHE, suite: str = DEBIAN_SUITE) -> str:
    """The local Debian base image (imported from the cached root filesystem when missing)."""
    reference = f"localhost/debian:{suite}"
    if subprocess.run(["podman", "image", "exists", reference], capture_output=True).returncode == 0:
        return reference
    rootfs = debian_rootfs(cache, suite)
    with tempfile.TemporaryFile() as archive:
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=archive,
                       check=True)
        archive.seek(0)
        result = subprocess.run(import_argv(reference), stdin=archive, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"Importing the Debian base image failed ({result.returncode}): "
                        f"{result.stderr.strip()[-2000:]}")
    return reference
