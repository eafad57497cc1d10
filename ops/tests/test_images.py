"""ops.images without an engine: tags, the build context, the engine's command lines, ECR and push.

The commands run through invoke's MockContext, which records them. ECR runs in a real moto
server on 127.0.0.1 (no registry can be reached here). The build itself runs for real in
test_container.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Config, Exit, MockContext, Result

from ops import images
from ops.errors import UserError
from ops.testing import free_port


def git_answers(head: str | None, status: str = ""):
    def git(argv, **kwargs):
        if argv[:2] == ["git", "rev-parse"]:
            if head is None:
                return subprocess.CompletedProcess(argv, 128, "", "fatal: not a git repository")
            return subprocess.CompletedProcess(argv, 0, head + "\n", "")
        return subprocess.CompletedProcess(argv, 0, status, "")
    return git


def test_a_clean_tree_is_tagged_with_its_short_sha():
    revision = images.revision(git=git_answers("0123456789abcdef0123"), environ={})
    assert revision.tag == "0123456789ab"


def test_an_unclean_tree_is_tagged_dirty():
    revision = images.revision(git=git_answers("0123456789abcdef0123", " M tasks.py\n"), environ={})
    assert revision.tag == "0123456789ab-dirty"


def test_without_git_the_ci_commit_variable_names_the_commit():
    revision = images.revision(git=git_answers(None),
                               environ={"CODEBUILD_RESOLVED_SOURCE_VERSION": "feedfacecafebeef1234"})
    assert revision == images.Revision("feedfacecafebeef1234", dirty=False)


def test_without_git_or_ci_variable_the_error_says_what_to_do():
    with pytest.raises(UserError, match="Build from a git checkout"):
        images.revision(git=git_answers(None), environ={})


def test_this_checkout_has_a_revision():
    assert len(images.revision().sha) == 40


def make_repository(root: Path) -> Path:
    for name, text in {
        ".dockerignore": (images.REPOSITORY / ".dockerignore").read_text(),
        "docker/Dockerfile": "FROM scratch\n",
        "docker/entrypoint.sh": "#!/bin/sh\n",
        "docker/docker-compose.yml": "services: {}\n",
        "tasks.py": "", "bootstrap.py": "", "requirements.txt": "", "requirements-dev.txt": "",
        "env/local.env": "DEBUG=true\n",
        ".env": "SECRET_KEY=do-not-ship\n",
        "env/.env": "SECRET_KEY=nor-this\n",
        "application_service/.env": "SECRET_KEY=nor-this\n",
        "application_service/manage.py": "",
        "application_service/conftest.py": "",
        "application_service/application/views.py": "",
        "application_service/application/tests/test_views.py": "",
        "application_service/tests/test_serve.py": "",
        "application_service/application/__pycache__/views.cpython-311.pyc": "",
        "application_service/db.sqlite3": "",
        "ops/__init__.py": "", "ops/envvars.py": "", "ops/tasks/build.py": "",
        "ops/images.py": "", "ops/podman.py": "", "ops/compose.py": "", "ops/testing.py": "",
        "ops/bench/__init__.py": "", "ops/tests/test_images.py": "",
        "reports/junit.xml": "<testsuites/>",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".venv/bin/python": "",
        "README.md": "",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def context_files(repository: Path) -> set[str]:
    """What the engine's CLI sends of `repository` after .dockerignore: the docker SDK's public
    implementation of the same rules (the build itself no longer uses the SDK)."""
    from docker.utils.build import exclude_paths

    lines = (line.strip() for line in (repository / ".dockerignore").read_text().splitlines())
    patterns = [line for line in lines if line and not line.startswith("#")]
    return exclude_paths(str(repository), patterns, images.DOCKERFILE) - {images.DOCKERFILE}


def test_the_context_holds_the_code_and_no_secrets_reports_history_tests_or_build_tools(tmp_path):
    files = context_files(make_repository(tmp_path))
    assert {"tasks.py", "bootstrap.py", "requirements.txt", "env/local.env", "docker/entrypoint.sh",
            "application_service/manage.py", "application_service/application/views.py",
            "ops/__init__.py", "ops/envvars.py", "ops/tasks/build.py"} <= files
    leaked = {name for name in files if Path(name).name.startswith(".env") or name.startswith(
        (".git", "reports", ".venv")) or "__pycache__" in name or name.endswith(".sqlite3")}
    assert leaked == set()
    assert not {name for name in files if "/tests/" in f"/{name}" or name.endswith("conftest.py")}
    assert not {name for name in files if name.startswith("ops/bench")}
    assert not {"ops/images.py", "ops/podman.py", "ops/compose.py", "ops/testing.py"} & files
    assert "requirements-dev.txt" not in files and "README.md" not in files


def test_this_repository_context_has_no_env_file():
    assert not [name for name in context_files(images.REPOSITORY) if Path(name).name.startswith(".env")]


# --- the engine and its commands ---------------------------------------------------------------

DOCKER = images.Engine("docker", {"PATH": "/usr/bin"})
PODMAN = images.Engine("podman", {"PATH": "/usr/bin", "CONTAINERS_CONF": "/run/ls/containers.conf"})


def test_docker_builds_with_buildkit_and_loads_the_image_into_the_engine():
    options = images.BuildOptions(name="little-service", tag="abc",
                                  labels={"org.opencontainers.image.revision": "abc123"})
    assert images.build_argv(DOCKER, options) == [
        "docker", "buildx", "build", "--load", "--file", "docker/Dockerfile",
        "--tag", "little-service:abc", "--label", "org.opencontainers.image.revision=abc123",
        "--network", "host", "."]


def test_podman_builds_with_the_base_image_the_secrets_and_no_cache():
    options = images.BuildOptions(
        name="x", tag="y", base_image="localhost/debian:bookworm", no_cache=True,
        secrets={"pip_conf": Path("/etc/pip.conf"), "ca_bundle": Path("/etc/ca.pem")})
    assert images.build_argv(PODMAN, options) == [
        "podman", "build", "--format", "docker", "--file", "docker/Dockerfile", "--tag", "x:y",
        "--build-arg", "BASE_IMAGE=localhost/debian:bookworm",
        "--secret", "id=pip_conf,src=/etc/pip.conf", "--secret", "id=ca_bundle,src=/etc/ca.pem",
        "--network", "host", "--no-cache", "."]


def test_the_build_runs_in_the_repository_with_the_engines_variables():
    c = MockContext(run=Result())
    images.build(c, PODMAN, images.BuildOptions(name="x", tag="y", network=None))
    [call] = c.run.call_args_list
    assert shlex.split(call.args[0]) == ["podman", "build", "--format", "docker",
                                         "--file", "docker/Dockerfile", "--tag", "x:y", "."]
    assert call.kwargs["env"] == PODMAN.variables and call.kwargs["replace_env"]
    assert call.kwargs["echo"] and not call.kwargs["pty"] and call.kwargs["in_stream"] is False
    assert c.cwd == ""  # the cd to the repository applied to that one command


def test_a_failed_engine_command_is_a_user_error():
    c = MockContext(run=Result(exited=1))
    with pytest.raises(UserError, match=r"`podman build` failed \(exit code 1\): its output above says why"):
        images.build(c, PODMAN, images.BuildOptions(name="x", tag="y"))


def test_docker_is_the_engine_when_it_answers(tmp_path):
    engine = images.find_engine(tmp_path, {"PATH": "/bin"}, docker=lambda: True,
                                podman_installed=lambda: True)
    assert engine == images.Engine("docker", {"PATH": "/bin"})


def test_else_podman_with_this_machines_configuration(tmp_path):
    engine = images.find_engine(tmp_path, {"PATH": "/bin"}, docker=lambda: False,
                                podman_installed=lambda: True)
    assert engine.program == "podman"
    assert engine.variables == {"PATH": "/bin", "CONTAINERS_CONF": str(tmp_path / "containers.conf")}
    assert "default_ulimits = []" in Path(engine.variables["CONTAINERS_CONF"]).read_text()


def test_no_engine_is_a_user_error_that_says_what_to_install(tmp_path):
    with pytest.raises(UserError) as raised:
        images.find_engine(tmp_path, {}, docker=lambda: False, podman_installed=lambda: False)
    assert str(raised.value) == (
        "No container engine: Docker does not answer (`docker info`) and podman is not installed. "
        "Start Docker, or install podman and runc (apt-get install -y podman runc): `invoke build` "
        "then builds with podman, nothing to configure.")


def test_docker_answers_only_when_docker_info_succeeds():
    asked = []

    def info(returncode):
        def run(argv, **kwargs):
            asked.append(argv)
            return subprocess.CompletedProcess(argv, returncode)
        return run

    assert images.docker_answers(which=lambda name: "/usr/bin/docker", run=info(0))
    assert not images.docker_answers(which=lambda name: "/usr/bin/docker", run=info(1))
    assert asked == [["docker", "info"], ["docker", "info"]]
    assert not images.docker_answers(which=lambda name: None, run=info(0))


def test_build_secrets_are_the_given_files_by_id(tmp_path):
    (tmp_path / "pip.conf").write_text("[global]\nindex-url = https://mirror.invalid/simple\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    secrets = images.build_secrets(pip_config=str(tmp_path / "pip.conf"), ca_bundle=str(tmp_path / "ca.pem"))
    assert secrets == {"pip_conf": tmp_path / "pip.conf", "ca_bundle": tmp_path / "ca.pem"}
    assert images.build_secrets() == {}


def test_a_missing_or_unreadable_secret_file_is_a_user_error_naming_its_option(tmp_path):
    with pytest.raises(UserError, match="--ca-bundle .*missing.pem: No such file or directory; give a"):
        images.build_secrets(ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(UserError, match="--pip-config .*: Is a directory"):
        images.build_secrets(pip_config=str(tmp_path))


# --- the task ----------------------------------------------------------------------------------

def test_the_task_builds_with_the_engine_found_and_says_what_it_built(monkeypatch, tmp_path, capsys):
    from ops.tasks import build as build_tasks

    monkeypatch.setattr(images, "revision", lambda: images.Revision("0123456789abcdef", dirty=True))
    monkeypatch.setattr(images, "container_engine", lambda: contextlib.nullcontext(PODMAN))
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    c = MockContext(config=Config(overrides=build_tasks.ns.configuration()), run=Result())
    build_tasks.image(c, ca_bundle=str(tmp_path / "ca.pem"), base_image="localhost/debian:bookworm")
    [call] = c.run.call_args_list
    assert shlex.split(call.args[0]) == [
        "podman", "build", "--format", "docker", "--file", "docker/Dockerfile",
        "--tag", "little-service:0123456789ab-dirty",
        "--label", "org.opencontainers.image.revision=0123456789abcdef",
        "--build-arg", "BASE_IMAGE=localhost/debian:bookworm",
        "--build-arg", "APP_VERSION=0123456789ab-dirty",
        "--secret", f"id=ca_bundle,src={tmp_path / 'ca.pem'}", "--network", "host", "."]
    assert "built little-service:0123456789ab-dirty" in capsys.readouterr().out


def test_the_task_refuses_to_push_an_uncommitted_tree(monkeypatch):
    from ops.tasks import build as build_tasks

    monkeypatch.setattr(images, "revision", lambda: images.Revision("0123456789abcdef", dirty=True))
    with pytest.raises(Exit, match="uncommitted changes"):
        build_tasks.image(MockContext(), push=True)


def test_inside_the_image_the_task_says_where_it_runs(monkeypatch):
    from ops.tasks import build as build_tasks

    monkeypatch.setitem(sys.modules, "ops.images", None)  # the image carries no ops/images.py
    with pytest.raises(Exit, match="invoke build runs from a checkout of the repository .* not inside"):
        build_tasks.image(MockContext())


def test_the_beanstalk_artifact_names_the_pushed_image(tmp_path):
    path = images.write_artifact("123.dkr.ecr.eu-west-1.amazonaws.com/little-service:abc",
                                 tmp_path / "dist" / "Dockerrun.aws.json")
    document = json.loads(path.read_text())
    assert document["AWSEBDockerrunVersion"] == "1"
    assert document["Image"]["Name"].endswith("/little-service:abc")
    assert document["Ports"] == [{"ContainerPort": 8000}]


# --- ECR against a real moto server ------------------------------------------------------------

@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        from ops.testing import eventually, http_get

        eventually(lambda: _answers(http_get, url), timeout=30, message="moto server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(http_get, url):
    try:
        return http_get(url + "/moto-api/", timeout=1).status < 500
    except OSError:
        return False


@pytest.fixture
def ecr(moto_url, monkeypatch):
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.client("ecr", endpoint_url=moto_url, region_name="eu-west-1")


def test_ecr_login_decodes_the_authorization_token(ecr):
    login = images.ecr_login(ecr)
    token = ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    assert (login.username, login.password) == (username, password) and username == "AWS"
    assert not login.registry.startswith("http") and ".dkr.ecr." in login.registry
    assert password not in repr(login)


def test_push_logs_in_with_the_password_on_standard_input_then_tags_and_pushes(ecr):
    uri = ecr.create_repository(repositoryName="little-service-push")["repository"]["repositoryUri"]
    c = MockContext(run=Result())
    pushed = images.push(c, DOCKER, ecr, image="little-service:abc", repository="little-service-push",
                         tag="abc")
    assert pushed == f"{uri}:abc"
    login, tag, push = c.run.call_args_list
    password = images.ecr_login(ecr).password
    assert shlex.split(login.args[0]) == ["docker", "login", "--username", "AWS", "--password-stdin",
                                          uri.split("/")[0]]
    assert login.kwargs["in_stream"].getvalue() == password and not login.kwargs["echo_stdin"]
    assert all(password not in call.args[0] for call in c.run.call_args_list)  # never a word, never echoed
    assert shlex.split(tag.args[0]) == ["docker", "tag", "little-service:abc", f"{uri}:abc"]
    assert shlex.split(push.args[0]) == ["docker", "push", f"{uri}:abc"]
    assert tag.kwargs["in_stream"] is False and push.kwargs["in_stream"] is False


def test_push_to_a_missing_repository_says_how_to_fix_it(ecr):
    c = MockContext(run=Result())
    with pytest.raises(UserError, match="'nowhere' does not exist in eu-west-1"):
        images.push(c, PODMAN, ecr, image="x:1", repository="nowhere", tag="1")
    assert c.run.call_args_list == []
