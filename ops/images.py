"""The service's image: immutable tags, then building and pushing it with the engine's own CLI.

The engine is Docker when one answers (`docker buildx build`: BuildKit), else podman (`podman
build`, configured by ops.podman). Each command is a list of words, run through the invoke
context: echoed, its progress streaming to the terminal. The engine applies .dockerignore to
the context itself. Pushing logs in to ECR with credentials from boto3, the password on the
login command's standard input only.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops import podman
from ops.envvars import REPOSITORY
from ops.errors import UserError

DOCKERFILE = "docker/Dockerfile"
# The build secrets the Dockerfile mounts (id -> the option of `invoke build` naming the file).
SECRETS = {"pip_conf": "--pip-config", "ca_bundle": "--ca-bundle"}
NO_ENGINE = ("No container engine: Docker does not answer (`docker info`) and podman is not "
             "installed. Start Docker, or install podman and runc (apt-get install -y podman "
             "runc): `invoke build` then builds with podman, nothing to configure.")
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


# --- the engine ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Engine:
    """A container engine's CLI: its program, and the variables its commands run with."""

    program: str  # docker or podman
    variables: dict[str, str] = field(repr=False)

    def command(self, *words: str) -> list[str]:
        return [self.program, *words]


def docker_answers(which: Callable[[str], str | None] = shutil.which,
                   run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> bool:
    """A Docker engine answers `docker info` (the one DOCKER_HOST names, else the default socket)."""
    if not which("docker"):
        return False
    try:
        return run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def find_engine(config_dir: Path, environ: Mapping[str, str] = os.environ, *,
                docker: Callable[[], bool] = docker_answers,
                podman_installed: Callable[[], bool] = podman.available) -> Engine:
    """Docker when it answers, else podman with this machine's configuration (written in config_dir)."""
    if docker():
        return Engine("docker", dict(environ))
    if podman_installed():
        return Engine("podman", podman.podman_environment(podman.write_configuration(config_dir), environ))
    raise UserError(NO_ENGINE)


@contextlib.contextmanager
def container_engine(environ: Mapping[str, str] = os.environ) -> Iterator[Engine]:
    """The engine for one build and push; podman's configuration lives as long as they do."""
    with tempfile.TemporaryDirectory(prefix="little-service-engine-") as directory:
        yield find_engine(Path(directory), environ)


def execute(c, engine: Engine, argv: Sequence[str], *, password: str | None = None,
            cwd: Path = REPOSITORY):
    """Run one engine command through the invoke context `c`, echoed, its output streaming to the
    terminal; return invoke's result, UserError when it fails.

    `password` reaches the command on its standard input: never in its words, never echoed.
    """
    with c.cd(str(cwd)):
        result = c.run(shlex.join(argv), env=engine.variables, replace_env=True, echo=True, pty=False,
                       warn=True, in_stream=io.StringIO(password) if password is not None else False,
                       echo_stdin=False)
    if result.failed:
        raise UserError(f"`{shlex.join(argv[:2])}` failed (exit code {result.exited}): "
                        "its output above says why.")
    return result


# --- building -----------------------------------------------------------------------------------

@dataclass
class BuildOptions:
    name: str
    tag: str
    base_image: str | None = None
    secrets: dict[str, Path] = field(default_factory=dict)  # id (see SECRETS) -> file
    network: str | None = "host"
    no_cache: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    version: str | None = None  # what the service reports (APP_VERSION): the tag, in the pipeline

    @property
    def reference(self) -> str:
        return image_reference(self.name, self.tag)

    def build_arguments(self) -> dict[str, str]:
        arguments = {"BASE_IMAGE": self.base_image} if self.base_image else {}
        if self.version:
            arguments["APP_VERSION"] = self.version
        return arguments


def build_secrets(*, pip_config: str | None = None, ca_bundle: str | None = None) -> dict[str, Path]:
    """The files this build mounts as secrets (a pip.conf, a CA bundle), by id.

    Secrets are mounted into the one step that reads them, so they never enter a layer. A missing
    or unreadable file is a UserError naming its option.
    """
    secrets = {}
    for secret, path in (("pip_conf", pip_config), ("ca_bundle", ca_bundle)):
        if not path:
            continue
        file = Path(path).expanduser().resolve()
        try:
            with file.open("rb"):
                pass
        except OSError as exc:
            raise UserError(f"{SECRETS[secret]} {path}: {exc.strerror}; give a readable file.") from None
        secrets[secret] = file
    return secrets


def build_argv(engine: Engine, options: BuildOptions) -> list[str]:
    """The build of the context in the current directory: `docker buildx build`, its image loaded
    into the engine, or `podman build` of a Docker-format image."""
    if engine.program == "docker":
        argv = engine.command("buildx", "build", "--load")
    else:  # podman's default OCI format drops the Dockerfile's SHELL and HEALTHCHECK
        argv = engine.command("build", "--format", "docker")
    argv += ["--file", DOCKERFILE, "--tag", options.reference]
    for key, value in options.labels.items():
        argv += ["--label", f"{key}={value}"]
    for key, value in options.build_arguments().items():
        argv += ["--build-arg", f"{key}={value}"]
    for secret, path in options.secrets.items():
        argv += ["--secret", f"id={secret},src={path}"]
    if options.network:
        argv += ["--network", options.network]
    if options.no_cache:
        argv.append("--no-cache")
    return [*argv, "."]


def build(c, engine: Engine, options: BuildOptions, context: Path = REPOSITORY):
    """Build the image from `context` (the repository) and tag it; return invoke's result."""
    return execute(c, engine, build_argv(engine, options), cwd=context)


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


def login_argv(engine: Engine, login: RegistryLogin) -> list[str]:
    """The password is read from standard input (see execute), never passed as a word."""
    return engine.command("login", "--username", login.username, "--password-stdin", login.registry)


def push(c, engine: Engine, ecr, *, image: str, repository: str, tag: str) -> str:
    """Log in to the account's registry, tag the local image for the ECR repository and push it;
    return the pushed reference."""
    target = image_reference(ecr_repository_uri(ecr, repository), tag)
    login = ecr_login(ecr)
    execute(c, engine, login_argv(engine, login), password=login.password)
    execute(c, engine, engine.command("tag", image, target))
    execute(c, engine, engine.command("push", target))
    return target


def dockerrun(reference: str, port: int = 8000) -> dict:
    """Elastic Beanstalk's single-container deployment descriptor for the pushed image."""
    return {
        "AWSEBDockerrunVersion": "1",
        "Image": {"Name": reference, "Update": "true"},
        "Ports": [{"ContainerPort": port}],
    }


def read_artifact(path: Path) -> dict:
    return json.loads(path.read_text())


def write_artifact(reference: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dockerrun(reference), indent=2) + "\n")
    return path
