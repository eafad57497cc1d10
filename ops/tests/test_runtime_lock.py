"""The image installs only requirements.txt: the runtime lock holds what its roles run, and the
task file loads without the packages only requirements-dev.txt adds (build, deploy, test tools)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import packages_distributions

from packaging.utils import canonicalize_name

from ops.locks import requirement_names
from ops.testing import REPOSITORY

BUILD_AND_DEPLOY_TOOLS = {"boto3", "botocore", "docker", "fabric", "paramiko", "pip-tools", "moto"}

# Runs `invoke --list` (which imports tasks.py and the ops modules it names) with every listed
# top-level module made unimportable, as in an image without them.
WITHOUT_MODULES = """
import sys
from importlib.abc import MetaPathFinder

blocked = set(sys.argv[1:])

class Blocker(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the runtime lock)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
from invoke.main import program
program.run(["invoke", "--list"], exit=True)
"""


def test_the_runtime_lock_leaves_the_build_and_deploy_tools_out():
    runtime = requirement_names(REPOSITORY / "requirements.txt")
    assert not runtime & BUILD_AND_DEPLOY_TOOLS, "the image would carry them (see requirements-dev.in)"
    # Still locked for development and CI, where invoke build --push runs.
    assert {"boto3", "docker"} <= requirement_names(REPOSITORY / "requirements-dev.txt")


def test_the_task_file_loads_with_the_runtime_lock_alone():
    development_only = (requirement_names(REPOSITORY / "requirements-dev.txt")
                        - requirement_names(REPOSITORY / "requirements.txt"))
    modules = {module for module, distributions in packages_distributions().items()
               if all(canonicalize_name(distribution) in development_only for distribution in distributions)}
    assert {"boto3", "docker", "pytest"} <= modules
    result = subprocess.run([sys.executable, "-c", WITHOUT_MODULES, *sorted(modules)],
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "celery.beat" in result.stdout and "serve" in result.stdout
