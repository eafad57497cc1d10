"""Which branch a build is for, and `invoke build --push --push-from main` pushing only for main."""

from __future__ import annotations

import contextlib
import subprocess

import pytest
from invoke import Config, Exit, MockContext, Result

from ops import images
from ops.errors import UserError
from ops.source_branch import Source, build_source, from_reference, git_branch, push_refusal
from ops.testing import REPOSITORY

SHA = "0123456789abcdef0123456789abcdef01234567"
PIPELINE = {"CODEBUILD_INITIATOR": "codepipeline/little-service-production",
            "CODEBUILD_SOURCE_VERSION": "arn:aws:s3:::little-service-artifacts/prod/Source/Ab12Cd3.zip",
            "CODEBUILD_RESOLVED_SOURCE_VERSION": SHA}


def no_git():
    return None


@pytest.mark.parametrize(("environ", "expected"), [
    # CodeBuild's webhook: a push to a branch, a pull request, a tag
    ({"CODEBUILD_WEBHOOK_TRIGGER": "branch/main", "CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/main"},
     Source("branch", "main", "CODEBUILD_WEBHOOK_TRIGGER")),
    ({"CODEBUILD_WEBHOOK_TRIGGER": "pr/12", "CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/main",
      "CODEBUILD_SOURCE_VERSION": "pr/12"},
     Source("pull request", "12", "CODEBUILD_WEBHOOK_TRIGGER")),
    ({"CODEBUILD_WEBHOOK_TRIGGER": "tag/v1.2", "CODEBUILD_WEBHOOK_HEAD_REF": "refs/tags/v1.2"},
     Source("tag", "v1.2", "CODEBUILD_WEBHOOK_TRIGGER")),
    ({"CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/main", "CODEBUILD_WEBHOOK_EVENT": "PULL_REQUEST_UPDATED"},
     Source("pull request", "from main", "CODEBUILD_WEBHOOK_EVENT")),
    ({"CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/feature/x", "CODEBUILD_WEBHOOK_EVENT": "PUSH"},
     Source("branch", "feature/x", "CODEBUILD_WEBHOOK_HEAD_REF")),
    # a build started with a source version
    ({"CODEBUILD_SOURCE_VERSION": "main"}, Source("branch", "main", "CODEBUILD_SOURCE_VERSION")),
    ({"CODEBUILD_SOURCE_VERSION": f"refs/heads/release^{{{SHA}}}"},
     Source("branch", "release", "CODEBUILD_SOURCE_VERSION")),
    ({"CODEBUILD_SOURCE_VERSION": "refs/pull/7/head"},
     Source("pull request", "7", "CODEBUILD_SOURCE_VERSION")),
    ({"CODEBUILD_SOURCE_VERSION": "pr/7"}, Source("pull request", "7", "CODEBUILD_SOURCE_VERSION")),
    # a commit id or an S3 version id names no branch: SOURCE_BRANCH next
    ({"CODEBUILD_SOURCE_VERSION": SHA, "SOURCE_BRANCH": "main"}, Source("branch", "main", "SOURCE_BRANCH")),
    ({"CODEBUILD_SOURCE_VERSION": "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}, None),
    # the pipeline: its source version is the artifact; SOURCE_BRANCH from its build action
    ({**PIPELINE, "SOURCE_BRANCH": "main"}, Source("branch", "main", "SOURCE_BRANCH")),
    (PIPELINE, None),
    ({}, None),
])
def test_what_the_build_is_for(environ, expected):
    assert build_source(environ, git=no_git) == expected


def test_git_s_checked_out_branch_last_and_never_in_a_pipeline_s_build():
    assert build_source({}, git=lambda: "main") == Source("branch", "main", "git")
    assert build_source({"CODEBUILD_SOURCE_VERSION": "feature"}, git=lambda: "main").name == "feature"
    assert build_source(PIPELINE, git=lambda: "main") is None


def test_git_branch_is_none_when_detached_or_without_git(tmp_path):
    def git(returncode, stdout):
        return lambda argv, **kwargs: subprocess.CompletedProcess(argv, returncode, stdout, "")

    assert git_branch(tmp_path, git(0, "main\n")) == "main"
    assert git_branch(tmp_path, git(1, "")) is None  # detached HEAD
    assert git_branch(tmp_path, git(128, "")) is None  # no repository

    def missing(*args, **kwargs):
        raise FileNotFoundError("git")

    assert git_branch(tmp_path, missing) is None
    subprocess.run(["git", "init", "--quiet", "--initial-branch", "trunk", str(tmp_path)], check=True)
    assert git_branch(tmp_path) == "trunk"


def test_only_a_plain_branch_name_is_a_branch():
    assert from_reference(SHA, "x") is None and from_reference("abc1234", "x") is None
    assert from_reference("arn:aws:s3:::bucket/key.zip", "x") is None
    assert from_reference("refs/tags/v1", "x") == Source("tag", "v1", "x")


def test_main_pushes_and_everything_else_does_not():
    main = Source("branch", "main", "CODEBUILD_WEBHOOK_TRIGGER")
    assert push_refusal(main, "main") is None
    assert push_refusal(Source("branch", "main", "git"), "release") == (
        "not pushing: this build is for branch main (git); images are pushed from release only")
    for source in (Source("branch", "feature", "SOURCE_BRANCH"), Source("pull request", "12", "x"),
                   Source("tag", "main", "x"), Source("branch", "Main", "x")):
        assert push_refusal(source, "main").startswith(f"not pushing: this build is for {source}")


def test_nothing_naming_the_branch_refuses_and_a_pipeline_is_told_what_to_pass():
    with pytest.raises(UserError, match="Cannot tell which branch .* pushed from main only") as raised:
        push_refusal(None, "main", environ={})
    assert "SourceVariables" not in str(raised.value)
    with pytest.raises(UserError, match=r"started by codepipeline/little-service-production, .* "
                                        r"SOURCE_BRANCH=#\{SourceVariables.BranchName\}"):
        push_refusal(None, "main", environ=PIPELINE)


# --- the build task ------------------------------------------------------------------------------

ENGINE = images.Engine("docker", {"PATH": "/usr/bin"})


@pytest.fixture
def build_task(monkeypatch):
    from ops.tasks import build as build_tasks

    monkeypatch.setattr(images, "revision", lambda: images.Revision(SHA, dirty=False))
    monkeypatch.setattr(images, "container_engine", lambda: contextlib.nullcontext(ENGINE))
    pushed = []
    monkeypatch.setattr(images, "push",
                        lambda *args, **kwargs: pushed.append(kwargs) or "ecr/little-service:x")
    monkeypatch.setattr(images, "write_artifact", lambda image, path: path)
    c = MockContext(config=Config(overrides=build_tasks.ns.configuration()), run=Result())
    return build_tasks.image, c, pushed


def commands(c) -> list[str]:
    return [call.args[0] for call in c.run.call_args_list]


def test_a_build_for_another_branch_builds_and_says_why_it_does_not_push(build_task, monkeypatch, capsys):
    image, c, pushed = build_task
    monkeypatch.setenv("CODEBUILD_WEBHOOK_TRIGGER", "pr/12")
    image(c, push=True, push_from="main")
    assert pushed == [] and len(commands(c)) == 1 and commands(c)[0].startswith("docker buildx build")
    output = capsys.readouterr().out
    assert "not pushing: this build is for pull request 12 (CODEBUILD_WEBHOOK_TRIGGER)" in output


def test_a_build_for_main_pushes(build_task, monkeypatch):
    image, c, pushed = build_task
    monkeypatch.delenv("CODEBUILD_WEBHOOK_TRIGGER", raising=False)
    monkeypatch.delenv("CODEBUILD_WEBHOOK_HEAD_REF", raising=False)
    monkeypatch.setenv("CODEBUILD_INITIATOR", "codepipeline/little-service-production")
    monkeypatch.setenv("SOURCE_BRANCH", "main")
    image(c, push=True, push_from="main", repository="little-service-production", region="eu-west-1")
    assert [kwargs["repository"] for kwargs in pushed] == ["little-service-production"]


def test_a_pipeline_build_without_its_branch_is_refused_before_building(build_task, monkeypatch):
    image, c, pushed = build_task
    for name in ("CODEBUILD_WEBHOOK_TRIGGER", "CODEBUILD_WEBHOOK_HEAD_REF", "SOURCE_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in PIPELINE.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Exit, match="error: Cannot tell which branch this build is for"):
        image(c, push=True, push_from="main")
    assert pushed == [] and commands(c) == []


def test_push_from_goes_with_push(build_task):
    image, c, _ = build_task
    with pytest.raises(Exit, match="error: --push-from goes with --push"):
        image(c, push_from="main")


def test_the_buildspec_pushes_from_main_only():
    from ops.tests.test_pipelines import buildspec_commands, program

    lines = [" ".join(program(words)) for words in buildspec_commands()]
    pushes = [line for line in lines if "--push" in line.split()]
    assert pushes == ["python3 bootstrap.py build --push --push-from main"]
    assert (REPOSITORY / "ops" / "source_branch.py").exists()
