"""ops.images without an engine: tags, the build context, the engine's messages, ECR and push.

ECR runs in a real moto server on 127.0.0.1; the engine side of a push is a recording fake (no
registry can be reached here). The build itself runs for real in tests/test_container.py.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

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
        "docker/build-config/README.md": "config\n",
        "docker/docker-compose.yml": "services: {}\n",
        "tasks.py": "", "bootstrap.py": "", "requirements.txt": "", "requirements-dev.txt": "",
        "env/local.env": "DEBUG=true\n",
        ".env": "SECRET_KEY=do-not-ship\n",
        "env/.env": "SECRET_KEY=nor-this\n",
        "application_service/.env": "SECRET_KEY=nor-this\n",
        "application_service/manage.py": "",
        "application_service/application/views.py": "",
        "application_service/application/tests/test_views.py": "",
        "application_service/application/__pycache__/views.cpython-311.pyc": "",
        "application_service/db.sqlite3": "",
        "reports/junit.xml": "<testsuites/>",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".venv/bin/python": "",
        "README.md": "",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_context_holds_the_code_and_no_secrets_reports_or_history(tmp_path):
    files = set(images.context_files(make_repository(tmp_path)))
    assert {"tasks.py", "bootstrap.py", "requirements.txt", "env/local.env", "docker/entrypoint.sh",
            "application_service/manage.py", "application_service/application/views.py",
            "docker/build-config/README.md"} <= files
    leaked = {name for name in files if Path(name).name.startswith(".env") or name.startswith(
        (".git", "reports", ".venv")) or "__pycache__" in name or name.endswith(".sqlite3")}
    assert leaked == set()
    assert "application_service/application/tests/test_views.py" not in files
    assert "requirements-dev.txt" not in files and "README.md" not in files


def test_this_repository_context_has_no_env_file():
    assert not [name for name in images.context_files() if Path(name).name.startswith(".env")]


def test_the_context_tar_carries_the_dockerfile_and_this_builds_extra_files(tmp_path):
    context = images.build_context(make_repository(tmp_path), extra={
        "docker/build-config/ca-bundle.pem": b"-----BEGIN CERTIFICATE-----\n"})
    with tarfile.open(fileobj=context) as archive:
        names = set(archive.getnames())
        assert archive.extractfile("docker/build-config/ca-bundle.pem").read().startswith(b"-----BEGIN")
        assert archive.getmember("tasks.py").uid == 0
    assert images.DOCKERFILE in names and ".env" not in names


def test_build_config_files_read_the_given_files(tmp_path):
    (tmp_path / "pip.conf").write_text("[global]\nindex-url = https://mirror.invalid/simple\n")
    files = images.build_config_files(pip_config=str(tmp_path / "pip.conf"))
    assert list(files) == ["docker/build-config/pip.conf"]
    with pytest.raises(UserError, match="--ca-bundle .*readable file"):
        images.build_config_files(ca_bundle=str(tmp_path / "missing.pem"))


def test_build_parameters_ask_docker_for_buildkit_and_pass_the_base_image():
    options = images.BuildOptions(name="little-service", tag="abc", base_image="localhost/debian:bookworm")
    docker_params = images.build_parameters(options, buildkit_api=True)
    assert docker_params["version"] == "2"
    assert docker_params["t"] == "little-service:abc"
    assert docker_params["dockerfile"] == "docker/Dockerfile"
    assert docker_params["networkmode"] == "host"
    assert json.loads(docker_params["buildargs"]) == {"BASE_IMAGE": "localhost/debian:bookworm"}
    podman_params = images.build_parameters(images.BuildOptions(name="x", tag="y"), buildkit_api=False)
    assert "version" not in podman_params and json.loads(podman_params["buildargs"]) == {}


def test_follow_build_prints_progress_and_returns_the_image_id():
    out = io.StringIO()
    image_id = images.follow_build([{"stream": "STEP 1/2: FROM base\n"}, {"aux": {"ID": "sha256:abc"}},
                                    {"stream": "Successfully built abc\n"}], out)
    assert image_id == "sha256:abc"
    assert out.getvalue() == "STEP 1/2: FROM base\nSuccessfully built abc\n"


def test_a_failed_build_step_is_a_user_error():
    with pytest.raises(UserError, match="The image build failed: pip exited 1"):
        images.follow_build([{"stream": "ok\n"}, {"errorDetail": {"message": "pip exited 1\n"},
                                                  "error": "pip exited 1"}], io.StringIO())


def test_follow_push_prints_each_layer_state_once():
    out = io.StringIO()
    images.follow_push([{"status": "Preparing", "id": "a1"}, {"status": "Pushing", "id": "a1",
                        "progress": "[=>  ]"}, {"status": "Pushing", "id": "a1", "progress": "[==> ]"},
                        {"status": "Pushed", "id": "a1"}, {"status": "abc: digest: sha256:f size: 1"}], out)
    assert out.getvalue().splitlines() == ["a1: Preparing", "a1: Pushing", "a1: Pushed",
                                           "abc: digest: sha256:f size: 1"]
    with pytest.raises(UserError, match="denied"):
        images.follow_push([{"errorDetail": {"message": "denied: not authorized"}}], io.StringIO())


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


class FakeImage:
    def __init__(self, calls):
        self.calls = calls

    def tag(self, repository, tag):
        self.calls.append(("tag", repository, tag))
        return True


class FakeImages:
    def __init__(self, calls):
        self.calls = calls

    def get(self, name):
        self.calls.append(("get", name))
        return FakeImage(self.calls)

    def push(self, repository, tag, auth_config, stream, decode):
        self.calls.append(("push", repository, tag, auth_config))
        return iter([{"status": "Pushed", "id": "layer"}, {"status": f"{tag}: digest: sha256:0 size: 1"}])


class FakeEngine:
    """Records what a push asks of the engine (no registry is reachable from here)."""

    def __init__(self):
        self.calls = []
        self.images = FakeImages(self.calls)

    def login(self, username, password, registry):
        self.calls.append(("login", username, password, registry))


def test_ecr_login_decodes_the_authorization_token(ecr):
    login = images.ecr_login(ecr)
    token = ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    assert (login.username, login.password) == (username, password) and username == "AWS"
    assert not login.registry.startswith("http") and ".dkr.ecr." in login.registry
    assert password not in repr(login)


def test_push_tags_for_the_repository_logs_in_and_pushes(ecr):
    uri = ecr.create_repository(repositoryName="little-service-push")["repository"]["repositoryUri"]
    engine, out = FakeEngine(), io.StringIO()
    pushed = images.push(engine, ecr, image="little-service:abc", repository="little-service-push",
                         tag="abc", out=out)
    assert pushed == f"{uri}:abc"
    kinds = [call[0] for call in engine.calls]
    assert kinds == ["get", "tag", "login", "push"]
    assert engine.calls[1] == ("tag", uri, "abc")
    login = engine.calls[2]
    assert login[1] == "AWS" and login[3] == uri.split("/")[0]
    assert engine.calls[3][3] == {"username": "AWS", "password": login[2]}
    assert login[2] not in out.getvalue()  # the password is never printed
    assert "layer: Pushed" in out.getvalue()


def test_push_to_a_missing_repository_says_how_to_fix_it(ecr):
    with pytest.raises(UserError, match="'nowhere' does not exist in eu-west-1"):
        images.push(FakeEngine(), ecr, image="x:1", repository="nowhere", tag="1")


def test_no_engine_is_a_user_error():
    with pytest.raises(UserError, match="No container engine answers at unix:///nonexistent"):
        images.connect({"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
