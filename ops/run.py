"""The one place commands run: through invoke's context, or by replacing this process."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from ops.envvars import Environment


def run(c, argv: Sequence[str], environment: Environment, *, echo: bool = True, warn: bool = False,
        pty: bool = False, cwd: str | None = None):
    """Run argv with the environment's variables through the invoke context `c`."""
    command = shlex.join(argv)
    if cwd:
        command = f"cd {shlex.quote(cwd)} && {command}"
    return c.run(command, env=environment.variables, echo=echo, warn=warn, pty=pty,
                 replace_env=True)


def replace_process(argv: Sequence[str], environment: Environment, *, cwd: str | None = None):
    """exec argv (a server): signals then reach it directly, as they should under a supervisor."""
    print(f"exec: {shlex.join(argv)}", flush=True)
    if cwd:
        os.chdir(cwd)
    os.execvpe(argv[0], list(argv), environment.variables)
