"""secrets: the service's secrets in SSM Parameter Store (SecureString), one path per environment.

A value is read from a hidden prompt or standard input, never from the command line (it would stay
in the shell's history); only `get` prints one. Loaded inside the image too, which has no boto3:
ops.aws is imported when a task runs.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from invoke import Collection

from ops.envvars import resolve
from ops.errors import UserError
from ops.tasks import ENV_HELP, from_checkout, task

NAME_HELP = "the secret's name: the environment variable the service reads, e.g. SECRET_KEY"


class Place(NamedTuple):
    """Where an environment's secrets are: its SSM client, path and account."""

    ssm: object
    path: str
    account: object  # ops.aws.session.Account


def project_name(c) -> str:
    """The project's name (config project.name, set in tasks.py), the first part of every path."""
    return c.config.project.name


def place(c, env: str | None) -> Place:
    """The SSM client and path of the environment's secrets; UserError where there is no AWS."""
    from_checkout("boto3", "secrets.*")
    config = from_checkout("ops.aws.config", "secrets.*")
    session = from_checkout("ops.aws.session", "secrets.*")
    settings = config.load(project_name(c), resolve(env).name)
    account = session.connect(settings.region)
    return Place(account.client("ssm"), settings.secrets_path, account)


def described(where: Place) -> str:
    return f"{where.path} (account {where.account.account_id}, {where.account.region})"


@task(name="set", help={"name": NAME_HELP, "env": ENV_HELP})
def set_(c, name, env=None):
    """Store a secret, its value typed at a prompt or given on standard input."""
    secrets = from_checkout("ops.aws.secrets", "secrets.*")
    secrets.check_name(name)
    where = place(c, env)
    value = secrets.read_value(sys.stdin, f"{name} for {where.path}: ")
    version = secrets.put(where.ssm, where.path, name, value)
    print(f"{name} set in {described(where)}: version {version}")


@task(name="get", help={"name": NAME_HELP, "env": ENV_HELP})
def get(c, name, env=None):
    """Print a secret's value on standard output, and nothing else."""
    secrets = from_checkout("ops.aws.secrets", "secrets.*")
    secrets.check_name(name)
    where = place(c, env)
    print(secrets.get(where.ssm, where.path, name))


@task(name="list", help={"env": ENV_HELP})
def list_(c, env=None):
    """List the secrets' names, versions and dates (never their values)."""
    secrets = from_checkout("ops.aws.secrets", "secrets.*")
    where = place(c, env)
    found = secrets.names(where.ssm, where.path)
    if not found:
        print(f"no secrets in {described(where)}")
        return
    print(f"secrets in {described(where)}:")
    print(secrets.table(found))


@task(name="unset", help={"name": NAME_HELP, "env": ENV_HELP,
                          "yes": "delete without asking to type the name back (scripts, CI)"})
def unset(c, name, env=None, yes=False):
    """Delete a secret, after you type its name back."""
    secrets = from_checkout("ops.aws.secrets", "secrets.*")
    secrets.check_name(name)
    where = place(c, env)
    secret = secrets.find(where.ssm, where.path, name)
    if not yes:
        confirm_deletion(secret, described(where))
    secrets.delete(where.ssm, where.path, name)
    print(f"{name} deleted from {described(where)}")


def confirm_deletion(secret, where: str) -> None:
    if not sys.stdin.isatty():
        raise UserError(f"Deleting {secret.name} asks you to type its name back, and there is no terminal "
                        f"to ask on: pass --yes to delete it anyway.")
    answer = input(f"Delete {secret.name} (version {secret.version}) from {where}? "
                   f"Type its name to confirm: ")
    if answer.strip() != secret.name:
        raise UserError(f"Not confirmed: {secret.name} was not deleted.")


ns = Collection("secrets", set_, get, list_, unset)
