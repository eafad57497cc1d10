"""Which branch a build is for, and so whether `invoke build --push --push-from BRANCH` pushes.

Images reach ECR from one branch only: a pull request's or a feature branch's build still tests
and builds, and pushes nothing. What the build is for is read, first found first, from:

1. CodeBuild's webhook (CODEBUILD_WEBHOOK_TRIGGER `branch/<name>`, `pr/<n>` or `tag/<name>`;
   else CODEBUILD_WEBHOOK_HEAD_REF with CODEBUILD_WEBHOOK_EVENT);
2. CODEBUILD_SOURCE_VERSION when it names a branch, a pull request or a tag (a build started
   with a source version); not when it is a commit id, nor in a build CodePipeline started
   (CODEBUILD_INITIATOR codepipeline/...: its source version is the pipeline's artifact);
3. SOURCE_BRANCH: what CodePipeline passes (`#{SourceVariables.BranchName}`), since a build it
   starts carries no branch of its own;
4. git's checked-out branch (a person's build; not in a pipeline's, which has no .git).

When none says, pushing is refused: an image of unknown origin never reaches ECR.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ops.envvars import REPOSITORY
from ops.errors import UserError

COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
# The names the stack's SourceBranch allows (aws/environment.yml): not an ARN, nor an S3 version id.
BRANCH_NAME = re.compile(r"^[A-Za-z0-9._/-]+$")


@dataclass(frozen=True)
class Source:
    """What a build is for: kind is branch, pull request or tag; origin, who said so."""

    kind: str
    name: str
    origin: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.origin})"


def from_reference(reference: str, origin: str) -> Source | None:
    """refs/heads/x, refs/tags/x, refs/pull/1/head, pr/1 or a plain branch name (CodeBuild's
    source versions, `^{sha}` suffix allowed); None for a commit id, an ARN or an S3 version id."""
    reference = re.sub(r"\^\{[0-9a-f]+\}$", "", reference.strip())
    if not BRANCH_NAME.match(reference) or COMMIT.match(reference):
        return None
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag"), ("refs/pull/", "pull request"),
                         ("pr/", "pull request")):
        if reference.startswith(prefix):
            name = reference.removeprefix(prefix)
            return Source(kind, name.removesuffix("/head") if kind == "pull request" else name, origin)
    return Source("branch", reference, origin)


def webhook_source(environ: Mapping[str, str]) -> Source | None:
    trigger = environ.get("CODEBUILD_WEBHOOK_TRIGGER", "").strip()
    if trigger:
        kind, _, name = trigger.partition("/")
        kinds = {"branch": "branch", "tag": "tag", "pr": "pull request"}
        return Source(kinds.get(kind, kind), name, "CODEBUILD_WEBHOOK_TRIGGER")
    head = environ.get("CODEBUILD_WEBHOOK_HEAD_REF", "").strip()
    if not head:
        return None
    source = from_reference(head, "CODEBUILD_WEBHOOK_HEAD_REF")
    if source and environ.get("CODEBUILD_WEBHOOK_EVENT", "").startswith("PULL_REQUEST"):
        return Source("pull request", f"from {source.name}", "CODEBUILD_WEBHOOK_EVENT")
    return source


def git_branch(repository: Path = REPOSITORY,
               git: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> str | None:
    """The checked-out branch; None when HEAD is detached or there is no git repository."""
    try:
        result = git(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd=repository,
                     capture_output=True, text=True)
    except FileNotFoundError:
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def build_source(environ: Mapping[str, str] = os.environ, *,
                 git: Callable[[], str | None] = git_branch) -> Source | None:
    """What this build is for (see the module's docstring), or None when nothing says."""
    source = webhook_source(environ)
    pipeline = environ.get("CODEBUILD_INITIATOR", "").startswith("codepipeline/")
    # A pipeline's build has the pipeline's artifact for its source version, and no .git.
    if source is None and not pipeline and environ.get("CODEBUILD_SOURCE_VERSION"):
        source = from_reference(environ["CODEBUILD_SOURCE_VERSION"], "CODEBUILD_SOURCE_VERSION")
    if source is None and environ.get("SOURCE_BRANCH", "").strip():
        source = Source("branch", environ["SOURCE_BRANCH"].strip(), "SOURCE_BRANCH")
    if source is None and not pipeline:
        branch = git()
        source = Source("branch", branch, "git") if branch else None
    return source


def push_refusal(source: Source | None, branch: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """None when a build for `source` may push (it is the branch `branch`); else why it does not,
    for a known other branch, pull request or tag. UserError when nothing says what it is for."""
    if source is None:
        started_by = environ.get("CODEBUILD_INITIATOR", "")
        pipeline = (f" This build was started by {started_by}, which tells CodeBuild no branch: its "
                    "build action must pass SOURCE_BRANCH=#{SourceVariables.BranchName}."
                    if started_by.startswith("codepipeline/") else "")
        raise UserError(
            f"Cannot tell which branch this build is for, and images are pushed from {branch} only: "
            "none of CODEBUILD_WEBHOOK_TRIGGER, CODEBUILD_WEBHOOK_HEAD_REF, CODEBUILD_SOURCE_VERSION "
            f"or SOURCE_BRANCH names one, and git has no branch checked out.{pipeline}")
    if source.kind == "branch" and source.name == branch:
        return None
    return f"not pushing: this build is for {source}; images are pushed from {branch} only"
