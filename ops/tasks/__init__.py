"""The task modules: one per namespace, each exporting its collection as `ns`; tasks.py composes them.

A task parses its arguments and calls tested functions elsewhere in ops/. Every task here is
made with `task` below, so that a UserError ends as a one-paragraph message, pre-tasks included.
"""

from __future__ import annotations

import importlib

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


def from_checkout(module: str, task_name: str):
    """The module `module` of the tooling that a checkout carries and the image does not (the
    build, the bench, compose, AWS: see .dockerignore, and the development lock's packages):
    inside the image, a UserError that says where the task runs."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise UserError(f"invoke {task_name} runs from a checkout of the repository with the "
                        f"development lock installed (python3 bootstrap.py), not inside the image "
                        f"({exc.name} is not here).") from None
