"""The task modules: one per namespace, each exporting its collection as `ns`; tasks.py composes them.

A task parses its arguments and calls tested functions elsewhere in ops/. Every task here is
made with `task` below, so that a UserError ends as a one-paragraph message, pre-tasks included.
"""

from __future__ import annotations

import invoke
from invoke import Exit

from ops.errors import UserError

ENV_HELP = "environment: local, ci or production (default: APP_ENV, else ci when CI=true, else local)"


class Task(invoke.Task):
    """An invoke task whose UserError becomes `error: <message>` and exit code 1, not a traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except UserError as exc:
            raise Exit(f"error: {exc}") from None


def task(*args, **kwargs):
    """invoke.task, made with Task (see above)."""
    kwargs.setdefault("klass", Task)
    return invoke.task(*args, **kwargs)
