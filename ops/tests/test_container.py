"""The image for real: `invoke build` builds it with the machine's engine CLI (docker buildx, else
podman), then its roles run against the host's MySQL and Redis (host networking).

The containers run through the docker SDK: on Docker's API when DOCKER_HOST or the default
socket answers, else on podman's API service (started here, configured by ops.podman). With
podman and no reachable registry, the base image is a local Debian image made with debootstrap
(cached in /var/cache/little-service); LITTLE_SERVICE_BASE_IMAGE picks another. Without any
engine the tests skip (in ci: fail).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from invoke import Context

from ops import images, podman
from ops.testing import REPOSITORY, eventually, free_port, http_get, http_json, invoke

pytestmark = [pytest.mark.integration, pytest.mark.container]

BUILD_TIMEOUT = 1800  # the first build downloads and compiles; later ones hit the layer cache
DEPLOY_TOOLS_INSTALLED = (
    "from importlib.metadata import distributions\n"
    "names = {(d.metadata['Name'] or '').lower() for d in distributions()}\n"
    "print(*sorted(names & {'boto3', 'botocore', 'docker', 'fabric', 'paramiko', 'pip-tools',"
    " 'pip', 'setuptools', 'wheel'}))"
)
PASSWORD = "a-long-container-test-password-1"


def docker_engine():
    """A client for a running Docker engine, or None."""
    import docker

    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return None
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception:  # no daemon behind the socket
        return None
    return client


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """(docker SDK client to run containers with, uses podman)."""
    import docker

    client = docker_engine()
    if client is not None:
        yield client, False
        return
    if not podman.available():
        pytest.skip("no container engine: neither Docker (DOCKER_HOST or /var/run/docker.sock) "
                    "nor podman and runc are installed")
    process, docker_host = podman.start_service(tmp_path_factory.mktemp("podman"))
    try:
        client = docker.DockerClient(base_url=docker_host, timeout=600)
        yield client, True
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def pip_settings(tmp_path: Path) -> list[str]:
    """This machine's pip CA bundle and (non-file) index, passed the way a company proxy needs."""
    options = []
    cert = os.environ.get("PIP_CERT") or subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.cert"], capture_output=True, text=True,
    ).stdout.strip()
    if cert and Path(cert).is_file():
        options += ["--ca-bundle", cert]
    lines = [f"{key} = {value}" for key, value in (
        ("index-url", os.environ.get("PIP_INDEX_URL", "")),
        ("extra-index-url", os.environ.get("PIP_EXTRA_INDEX_URL", "")),
    ) if value and not value.startswith("file:")]
    if lines:
        config = tmp_path / "pip.conf"
        config.write_text("[global]\n" + "\n".join(lines) + "\n")
        options += ["--pip-config", str(config)]
    return options


@dataclass(frozen=True)
class Built:
    reference: str
    base_image: str | None
    options: list[str]  # the pip settings passed to invoke build


@pytest.fixture(scope="session")
def image(engine, tmp_path_factory) -> Built:
    """`invoke build` for real, as a user runs it (it finds the engine itself); the built image."""
    client, uses_podman = engine
    base = os.environ.get("LITTLE_SERVICE_BASE_IMAGE")
    if not base and uses_podman:
        base = podman.debian_image()
    options = pip_settings(tmp_path_factory.mktemp("pip"))
    arguments = ["build", "--name", "little-service-test", *options]
    if base:
        arguments += ["--base-image", base]
    started = time.monotonic()
    result = invoke(*arguments, timeout=BUILD_TIMEOUT)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"invoke build failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert re.search(r"&& (docker buildx|podman) build ", result.stdout), \
        result.stdout[:2000]  # the task says what it runs
    built = re.search(r"^built (\S+)$", result.stdout, re.MULTILINE)
    assert built, result.stdout[-2000:]
    reference = built.group(1)
    size = client.images.get(reference).attrs["Size"]
    print(f"\nimage {reference}: {size / 1e6:.0f} MB, built in {elapsed:.0f}s")
    return Built(reference, base, options)


@contextlib.contextmanager
def role(client, image: str, command: list[str], env: dict[str, str], name: str):
    """A container of the image running one role, removed afterwards (its log shown on failure)."""
    container = client.containers.run(image, command, environment=env, network_mode="host",
                                      detach=True, name=f"{name}-{uuid.uuid4().hex[:6]}")
    try:
        yield container
    except BaseException:
        print(f"--- {name} log ---\n{container.logs().decode(errors='replace')[-5000:]}")
        raise
    finally:
        with contextlib.suppress(Exception):
            container.stop(timeout=10)
        with contextlib.suppress(Exception):
            container.remove(force=True)


def run_to_end(client, image: str, command: list[str], env: dict[str, str]) -> tuple[int, str]:
    container = client.containers.run(image, command, environment=env, network_mode="host",
                                      detach=True)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        return status, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def wait_healthy(container, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status not in ("created", "running"):
            raise AssertionError(f"the container stopped ({container.status}):\n"
                                 f"{container.logs().decode(errors='replace')[-5000:]}")
        with contextlib.suppress(OSError):
            if http_get(url, timeout=2).status == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"{url} never answered 200:\n{container.logs().decode(errors='replace')[-5000:]}")


@pytest.fixture
def production_env(service_database):
    """What a production deployment passes: secrets from the environment, never from the image."""
    prefix = f"ct-{uuid.uuid4().hex[:8]}:"
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "NUM_PROXIES": "0",  # the tests reach the container directly
        "DATABASE_URL": service_database["DATABASE_URL"],
        "REDIS_URL": service_database["REDIS_URL"],
        "SECURE_SSL_REDIRECT": "false",  # no TLS-terminating proxy in front of this test
        "API_DOCS_PUBLIC": "true",  # the docs page is read signed out below (production: signed in)
        "CELERY_KEY_PREFIX": prefix,
        "CACHE_KEY_PREFIX": f"{prefix}cache",
        "WAIT_FOR_TIMEOUT": "30",
    }


def test_the_image_serves_processes_messages_and_runs_as_non_root(engine, image, production_env,
                                                                  service_database):
    client, image = engine[0], image.reference
    status, log = run_to_end(client, image, ["migrate"], production_env)
    assert status == 0, log
    assert "is up" in log  # the entrypoint waited for MySQL and Redis first

    username = f"img_{uuid.uuid4().hex[:6]}"  # made by the image: production's password hasher
    status, log = run_to_end(client, image, ["createsuperuser", "--username", username, "--email",
                                             f"{username}@example.com"],
                             {**production_env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD})
    assert status == 0, log

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with role(client, image, ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
              production_env, "web") as web, \
            role(client, image, ["celery", "--concurrency", "1"], production_env, "worker"):
        wait_healthy(web, f"{base}/healthz")
        # The image reports the version it was built as: its tag.
        assert http_get(f"{base}/healthz").json()["version"] == image.rpartition(":")[2]
        # The HEALTHCHECK's own command, inside the container.
        code, output = web.exec_run(["invoke", "healthcheck", "--url", f"{base}/healthz"])
        assert code == 0, output.decode()
        # Static files were collected at build time and are served by whitenoise.
        assert http_get(f"{base}/static/admin/css/base.css").status == 200
        # Swagger UI works offline: the docs page and every file it names come from the image
        # (collectstatic leaves Redoc and the JavaScript source maps out).
        docs = http_get(f"{base}/api/docs/")
        assert docs.status == 200, docs.body[:2000]
        assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", docs.body)
        assert any("swagger-ui-bundle" in asset for asset in assets), docs.body[:2000]
        for asset in assets:  # some are binary (the favicon): only the status matters
            with urllib.request.urlopen(f"{base}{asset}", timeout=10) as response:
                assert response.status == 200 and response.read(), asset
        # The image holds what its roles run: the task list loads without the build and deploy
        # tools (requirements-dev.in) and without the installers.
        code, output = web.exec_run(["invoke", "--list"])
        assert code == 0 and "celery.beat" in output.decode(), output.decode()
        code, output = web.exec_run(["python", "-c", DEPLOY_TOOLS_INSTALLED])
        assert code == 0 and output.decode().split() == [], output.decode()

        token = http_json("POST", f"{base}/api/v1/auth/token/",
                          {"username": username, "password": PASSWORD})
        assert token.status == 200, token.body
        created = http_json("POST", f"{base}/api/v1/messages/", {"text": "from the image 📦"},
                            token=token.json()["token"])
        assert created.status == 201, created.body
        message = created.json()["id"]
        eventually(lambda: http_json("GET", f"{base}/api/v1/messages/{message}/").json()["status"]
                   == "processed", timeout=60, message="the worker container processes the message")

        code, uid = web.exec_run(["id", "-u"])
        assert code == 0 and uid.decode().strip() != "0"
        assert client.images.get(image).attrs["Config"]["User"] not in ("", "0", "root")
        # .dockerignore, as the engine applied it: no secrets, history, reports, tests or build tools.
        code, found = web.exec_run(["find", "/app", "-name", ".env*", "-o", "-name", ".git",
                                    "-o", "-name", "reports", "-o", "-name", "tests", "-o", "-name",
                                    "conftest.py", "-o", "-path", "/app/ops/bench", "-o", "-path",
                                    "/app/ops/testing.py", "-o", "-path", "/app/ops/images.py", "-o",
                                    "-path", "/app/ops/podman.py", "-o", "-path", "/app/ops/compose.py"])
        assert code == 0 and found.decode().strip() == "", found.decode()
        code, found = web.exec_run(["ls", "/app/ops/tasks/build.py", "/app/ops/envvars.py"])
        assert code == 0, found.decode()


def test_the_image_holds_no_secret_in_its_environment_or_history(engine, image):
    client, image = engine[0], image.reference
    attributes = client.images.get(image).attrs
    variables = dict(item.split("=", 1) for item in attributes["Config"]["Env"] or [])
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"} & set(variables)
    history = " ".join(step.get("CreatedBy", "") for step in client.images.get(image).history())
    assert "collectstatic-stand-in" in history  # the build step's stand-in, and nothing else
    assert "PIP_INDEX_URL=" not in history and "BEGIN CERTIFICATE" not in history


def test_a_one_line_change_rebuilds_from_the_dependency_cache(engine, image, tmp_path, capsys):
    """The benchmark: after a one-line code change the dependency layer comes from the cache.

    The change is made in a copy of the checkout (the engine applies .dockerignore to it the same
    way), built as `invoke build` builds.
    """
    client = engine[0]
    name, _, tag = image.reference.rpartition(":")
    checkout = tmp_path / "checkout"
    shutil.copytree(REPOSITORY, checkout, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "reports", "__pycache__", ".pytest_cache", ".ruff_cache", "var", "staticfiles"))
    changed = checkout / "application_service" / "application_service" / "health.py"
    changed.write_text(changed.read_text() + "# one more line\n")
    settings = dict(zip(image.options[::2], image.options[1::2], strict=True))
    options = images.BuildOptions(
        name=name, tag=f"{tag}-rebuild", base_image=image.base_image,
        secrets=images.build_secrets(pip_config=settings.get("--pip-config"),
                                     ca_bundle=settings.get("--ca-bundle")),
        labels=client.images.get(image.reference).attrs["Config"].get("Labels") or {},
    )
    started = time.monotonic()
    with images.container_engine() as found:
        result = images.build(Context(), found, options, context=checkout)
    elapsed = time.monotonic() - started
    log = result.stdout + result.stderr
    assert "Downloading" not in log and "Collecting" not in log, "the dependency layer was rebuilt"
    with capsys.disabled():
        print(f"\nrebuild after a one-line change: {elapsed:.1f}s "
              f"(image {client.images.get(options.reference).attrs['Size'] / 1e6:.0f} MB)")
    client.images.remove(options.reference, noprune=False)
    assert elapsed < 60, f"rebuild took {elapsed:.0f}s"
