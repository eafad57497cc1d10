"""Run several long-lived processes together, each line prefixed with its name (honcho)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence

from honcho.manager import Manager
from honcho.printer import Printer

from ops.environments import Environment


def run_together(processes: Mapping[str, Sequence[str]], environment: Environment) -> int:
    """Start every process; when one stops or Ctrl-C arrives, stop them all. Returns the exit code."""
    manager = Manager(Printer(sys.stdout))
    for name, argv in processes.items():
        manager.add_process(name, shlex.join(argv), env=environment.variables)
    manager.loop()
    return manager.returncode or 0
