"""The service's image: immutable tags, the build context, building and pushing with the docker SDK.

The SDK talks to any Docker-compatible engine: Docker (DOCKER_HOST or its socket) or podman's
API service (ops.podman starts one). Pushing logs in to ECR with boto3.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ops import buildkit
from ops.envvars import REPOSITORY
from ops.errors import UserError

DOCKERFILE = "docker/Dockerfile"
BUILD_CONFIG = "docker/build-config"  # bind-mounted by the Dockerfile's pip step, never a layer
# Where CI systems name the commit they build when the checkout has no .git (CodeBuild's zip).
COMMIT_VARIABLES = ("CODEBUILD_RESOLVED_SOURCE_VERSION", "CIRCLE_SHA1", "GITHUB_SHA")


@dataclass(frozen=True)
class Revision:
    sha: str
    dirty: bool

    @property
    def tag(self) -> str:
        """Immutable per commit: the short sha, `-dirty` when the tree has uncommitted changes."""
        return self.sha[:12] + ("-dirty" if self.dirty else "")


def revision(repository: Path = REPOSITORY, environ: Mapping[str, str] = os.environ,
             git: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> Revision:
    """The commit being built: from git, else from the CI's commit variable (a checkout without .git)."""
    try:
        head = git(["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True)
    except FileNotFoundError:
        head = None
    if head is not None and head.returncode == 0:
        status = git(["git", "status", "--porcelain", "--untracked-files=normal"], cwd=repository,
                     capture_output=True, text=True)
        return Revision(head.stdout.strip(), bool(status.stdout.strip()))
    for name in COMMIT_VARIABLES:
        if environ.get(name):
            return Revision(environ[name].strip(), dirty=False)
    raise UserError("Cannot tell which commit this is: no git repository here and none of "
                    f"{', '.join(COMMIT_VARIABLES)} is set. Build from a git checkout.")


def require_pushable(revision: Revision) -> None:
    """A pushed tag must name a commit: UserError for a tree with uncommitted changes."""
    if revision.dirty:
        raise UserError("The tree has uncommitted changes: a pushed tag must name a commit. "
                        "Commit first (or build without --push).")


def image_reference(name: str, tag: str) -> str:
    return f"{name}:{tag}"


# --- the build context ------------------------------------------------------------------------

def ignore_patterns(repository: Path = REPOSITORY) -> list[str]:
    path = repository / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_files(repository: Path = REPOSITORY) -> list[str]:
    """The paths the engine receives, after .dockerignore (the same rules the engine applies)."""
    from docker.utils.build import exclude_paths

    return sorted(exclude_paths(str(repository), ignore_patterns(repository), DOCKERFILE))


def build_context(repository: Path = REPOSITORY, *, extra: Mapping[str, bytes] | None = None) -> io.BytesIO:
    """A tar of the context, plus `extra` files (name -> content) for this build only.

    The Dockerfile itself is always included: the engine needs it, .dockerignore or not.
    """
    buffer = io.BytesIO()
    names = set(context_files(repository)) | {DOCKERFILE}
    extra = dict(extra or {})
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in sorted(names - set(extra)):
            path = repository / name
            info = archive.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
        for name, content in sorted(extra.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
    buffer.seek(0)
    return buffer


def build_config_files(*, pip_config: str | None = None, ca_bundle: str | None = None) -> dict[str, bytes]:
    """Files for docker/build-config in this build's context only (see docker/build-config/README.md)."""
    files = {}
    for option, path, name in (("--pip-config", pip_config, "pip.conf"),
                               ("--ca-bundle", ca_bundle, "ca-bundle.pem")):
        if not path:
            continue
        try:
            files[f"{BUILD_CONFIG}/{name}"] = Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise UserError(f"{option} {path}: {exc.strerror}; give a readable file.") from None
    return files


# --- building -----------------------------------------------------------------------------------

@dataclass
class BuildOptions:
    name: str
    tag: str
    base_image: str | None = None
    extra_files: dict[str, bytes] = field(default_factory=dict)
    network_mode: str | None = "host"
    no_cache: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return image_reference(self.name, self.tag)

    def build_arguments(self) -> dict[str, str]:
        return {"BASE_IMAGE": self.base_image} if self.base_image else {}


def connect(environ: Mapping[str, str] = os.environ):
    """A docker SDK client for the engine DOCKER_HOST names (else the default socket)."""
    import docker

    try:
        client = docker.from_env(environment=dict(environ), timeout=600)
        client.ping()
    except Exception as exc:  # the SDK raises DockerException, requests errors, OSError
        raise UserError(
            f"No container engine answers at {environ.get('DOCKER_HOST') or 'the default socket'} "
            f"({type(exc).__name__}). Start Docker, or serve podman's API (invoke docker.engine) "
            "and set DOCKER_HOST to the socket it prints.") from None
    return client


def is_podman(client) -> bool:
    components = client.version().get("Components") or []
    return any("podman" in (component.get("Name") or "").lower() for component in components)


def build_parameters(options: BuildOptions, *, buildkit_api: bool) -> dict[str, str]:
    """The engine API's /build query: Docker needs version=2 (BuildKit) for RUN --mount."""
    params = {
        "t": options.reference,
        "dockerfile": DOCKERFILE,
        "rm": "1",
        "forcerm": "1",
        "q": "0",
        "nocache": "1" if options.no_cache else "0",
        "buildargs": json.dumps(options.build_arguments()),
        "labels": json.dumps(options.labels),
    }
    if options.network_mode:
        params["networkmode"] = options.network_mode
    if buildkit_api:
        params["version"] = "2"
    return params


def stream_build(client, options: BuildOptions, context: io.BytesIO) -> Iterator[dict]:
    """POST the context to /build and yield the engine's JSON messages."""
    api = client.api
    response = api._post(  # the SDK's own request path; its build() cannot ask for BuildKit
        api._url("/build"), data=context, stream=True, timeout=None,
        params=build_parameters(options, buildkit_api=not is_podman(client)),
        headers={"Content-Type": "application/x-tar"},
    )
    api._raise_for_status(response)
    yield from api._stream_helper(response, decode=True)


def build(client, options: BuildOptions, repository: Path = REPOSITORY, *,
          out: TextIO = sys.stdout) -> str:
    """Build the image and tag it; print the engine's progress; return the image id."""
    context = build_context(repository, extra=options.extra_files)
    out.write(f"building {options.reference} (context {len(context.getvalue()) // 1024} KiB)\n")
    out.flush()
    image_id = follow_build(stream_build(client, options, context), out)
    if not image_id:
        image_id = client.images.get(options.reference).id
    return image_id


def follow_build(messages: Iterable[dict], out: TextIO) -> str | None:
    """Print a build's progress as it comes; raise UserError on a failed step."""
    image_id = None
    tracer = buildkit.Tracer(out)
    for message in messages:
        if "error" in message or "errorDetail" in message:
            detail = message.get("errorDetail", {}).get("message") or message.get("error")
            raise UserError(f"The image build failed: {str(detail).strip()}")
        aux = message.get("aux")
        if message.get("id") == "moby.buildkit.trace" and isinstance(aux, str):
            tracer.feed(aux)
        elif isinstance(aux, dict) and aux.get("ID"):
            image_id = aux["ID"]
        if message.get("stream"):
            out.write(message["stream"])
        elif message.get("status"):
            out.write(f"{message['status']} {message.get('progress') or ''}".rstrip() + "\n")
        out.flush()
    return image_id


# --- pushing to ECR -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RegistryLogin:
    registry: str  # host name, no scheme
    username: str
    password: str = field(repr=False)


def ecr_login(ecr) -> RegistryLogin:
    """Credentials for the account's registry from ECR's authorization token (valid 12 hours)."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://").rstrip("/")
    return RegistryLogin(registry, username, password)


def ecr_repository_uri(ecr, repository: str) -> str:
    try:
        found = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    except ecr.exceptions.RepositoryNotFoundException:
        found = []
    if not found:
        region = ecr.meta.region_name
        raise UserError(f"The ECR repository {repository!r} does not exist in {region}: create it "
                        "(the AWS bootstrap task does) or pass --repository with an existing one.")
    return found[0]["repositoryUri"]


def push(client, ecr, *, image: str, repository: str, tag: str, out: TextIO = sys.stdout) -> str:
    """Tag the local image for the ECR repository, log in and push; return the pushed reference."""
    target = ecr_repository_uri(ecr, repository)
    login = ecr_login(ecr)
    if not client.images.get(image).tag(target, tag):
        raise UserError(f"The engine refused to tag {image} as {target}:{tag}.")
    auth = {"username": login.username, "password": login.password}
    client.login(username=login.username, password=login.password, registry=login.registry)
    out.write(f"pushing {target}:{tag}\n")
    follow_push(client.images.push(target, tag=tag, auth_config=auth, stream=True, decode=True), out)
    return f"{target}:{tag}"


def follow_push(messages: Iterable[dict], out: TextIO) -> None:
    """One line per layer as its state changes (not every byte count); UserError on failure."""
    last: dict[str, str] = {}
    for message in messages:
        if "error" in message or "errorDetail" in message:
            detail = message.get("errorDetail", {}).get("message") or message.get("error")
            raise UserError(f"Pushing the image failed: {detail}")
        status, layer = message.get("status", ""), message.get("id", "")
        if status and last.get(layer) != status:
            last[layer] = status
            out.write(f"{layer + ': ' if layer else ''}{status}\n")
            out.flush()


def dockerrun(reference: str, port: int = 8000) -> dict:
    """Elastic Beanstalk's single-container deployment descriptor for the pushed image."""
    return {
        "AWSEBDockerrunVersion": "1",
        "Image": {"Name": reference, "Update": "true"},
        "Ports": [{"ContainerPort": port}],
    }


def write_artifact(reference: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dockerrun(reference), indent=2) + "\n")
    return path
