"""The image installs only requirements.txt: the runtime lock holds what its roles run, and the
task file loads without the packages only requirements-dev.txt adds (build, deploy, test tools)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import packages_distributions

import pytest
from packaging.utils import canonicalize_name

from ops.locks import requirement_names
from ops.testing import REPOSITORY, WITHOUT_MODULES_PREAMBLE

BUILD_AND_DEPLOY_TOOLS = {"boto3", "botocore", "docker", "fabric", "paramiko", "pip-tools", "moto"}

# Runs invoke (`invoke --list` imports tasks.py and the ops modules it names; TASK_ARGV a task's
# own) with every listed top-level module made unimportable, as in an image without them.
WITHOUT_MODULES = WITHOUT_MODULES_PREAMBLE + """
import os
from invoke.main import program
program.run(["invoke", *os.environ.get("TASK_ARGV", "--list").split()], exit=True)
"""
# bootstrap.py's check of a command line (TASK_CHECK), before it installs the development lock.
CHECK_WITHOUT_MODULES = WITHOUT_MODULES_PREAMBLE + """
import os
from ops.program import exit_if_refused
exit_if_refused(os.environ["TASK_ARGV"].split())
"""


def test_the_runtime_lock_leaves_the_build_and_deploy_tools_out():
    runtime = requirement_names(REPOSITORY / "requirements.txt")
    assert not runtime & BUILD_AND_DEPLOY_TOOLS, "the image would carry them (see requirements-dev.in)"
    # Still locked for development and CI, where invoke build --push runs.
    assert {"boto3", "docker"} <= requirement_names(REPOSITORY / "requirements-dev.txt")


def development_only_modules() -> set[str]:
    development_only = (requirement_names(REPOSITORY / "requirements-dev.txt")
                        - requirement_names(REPOSITORY / "requirements.txt"))
    return {module for module, distributions in packages_distributions().items()
            if all(canonicalize_name(distribution) in development_only for distribution in distributions)}


def without_development_tools(*argv: str, script: str = WITHOUT_MODULES) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *sorted(development_only_modules())],
                          cwd=REPOSITORY, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TASK_ARGV": " ".join(argv) or "--list"})


def test_the_task_file_loads_with_the_runtime_lock_alone():
    assert {"boto3", "docker", "pytest"} <= development_only_modules()
    result = without_development_tools()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "celery.beat" in result.stdout and "serve" in result.stdout


@pytest.mark.parametrize("argv", [("aws.bootstrap", "--env", "production", "--yes"),
                                  ("secrets.list", "--env", "production")])
def test_the_checkout_s_tools_say_so_where_their_packages_are_missing(argv):
    result = without_development_tools(*argv)
    assert result.returncode == 1
    assert "runs from a checkout of the repository with the development lock installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_development_task_s_command_line_is_checked_with_the_runtime_lock_alone():
    typo = without_development_tools("tset", "--env", "ci", script=CHECK_WITHOUT_MODULES)
    assert (typo.returncode, typo.stderr) == (1, "error: no task named 'tset'; did you mean 'test'?\n")
    real = without_development_tools("test", "--env", "ci", script=CHECK_WITHOUT_MODULES)
    assert (real.returncode, real.stdout, real.stderr) == (0, "", "")
