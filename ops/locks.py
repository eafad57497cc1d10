"""The dependency locks: each human-edited list (.in) and the hashed lock compiled from it."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.utils import canonicalize_name

from ops.envvars import PYTHON, REPOSITORY

# Each human-edited list and its hashed lock: the image's (runtime) and development's.
LOCKS = (("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt"))


def requirement_names(path: Path) -> set[str]:
    """The package names a requirements file lists, normalized as pip compares them (PEP 503)."""
    names = set()
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line.strip())
        if match and not line.strip().startswith(("-", "#")):
            names.add(canonicalize_name(match.group(1)))
    return names


def unlocked_requirements(repository: Path = REPOSITORY) -> list[str]:
    """'name (lock file)' for each package a .in file declares and its lock lacks."""
    missing = []
    for source, lock in LOCKS:
        declared = requirement_names(repository / source)
        missing += [f"{name} ({lock})" for name in sorted(declared - requirement_names(repository / lock))]
    return missing


def compile_command(source: str, target: str) -> list[str]:
    """pip-compile with hashes. Relative names: the lock's header records the command, and must
    hold no local path."""
    return [
        PYTHON, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe",
        "--strip-extras", "--no-emit-index-url", "--no-emit-find-links",
        "--output-file", target, source,
    ]


def compile_commands() -> list[list[str]]:
    """The commands `invoke lock` runs, runtime lock first (the development lock is constrained by it)."""
    return [compile_command(source, target) for source, target in LOCKS]
