"""The service's secrets in SSM Parameter Store: one SecureString per environment variable, under one
path per project and environment (`/little-service/production/SECRET_KEY`).

Elastic Beanstalk hands them to the service as environment variables. A value goes from the prompt
or standard input to SSM and back to standard output, nowhere else: no function here writes one to
disk or puts one into a message, AWS's messages included (a ValidationException echoes the value).
boto3 and botocore are imported where they are used: the image loads the task modules without them.
"""

from __future__ import annotations

import contextlib
import getpass
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple, TextIO

from ops.errors import UserError

NAME = re.compile(r"[A-Z][A-Z0-9_]*")
NAME_MAX_LENGTH = 100
PATH_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")  # what SSM allows between the slashes of a path
VALUE_MAX_BYTES = 4096  # SSM's standard tier: 4 KB a value
LIST_COMMAND = "invoke secrets.list"

class Secret(NamedTuple):
    """A secret as `list` shows it: never its value."""

    name: str
    version: int
    last_modified: datetime


# Where the secrets are

def path(project: str, env: str) -> str:
    """The SSM path that holds one environment's secrets: `/little-service/production/`."""
    for segment in (project, env):
        if not PATH_SEGMENT.fullmatch(segment):
            raise UserError(f"{segment!r} cannot be part of an SSM path: use letters, digits, '.', '-' "
                            f"and '_' only.")
    return f"/{project}/{env}/"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or len(name) > NAME_MAX_LENGTH:
        raise UserError(f"{name!r} is not a secret's name: a secret is an environment variable, named with "
                        f"capital letters, digits and '_', starting with a letter, at most "
                        f"{NAME_MAX_LENGTH} characters (e.g. SECRET_KEY).")
    return name


# Reading a value

def read_value(stdin: TextIO, prompt: str, *, ask: Callable[[str], str] | None = None) -> str:
    """The value typed twice at a hidden prompt (getpass) on a terminal, else all of standard input
    less one trailing newline (`echo`'s, or a file's last)."""
    if stdin.isatty():
        ask = ask or getpass.getpass
        value = ask(prompt)
        if ask("Again, to confirm: ") != value:
            raise UserError("The two entries differ: nothing was stored. Run it again.")
        return value
    value = stdin.read()
    for newline in ("\r\n", "\n"):
        if value.endswith(newline):
            return value[: -len(newline)]
    return value


# The calls

def put(ssm, path: str, name: str, value: str, *, overwrite: bool = True) -> int:
    """Store `value` as the SecureString path+name; its new version (1 for a new secret)."""
    check_name(name)
    if not value:
        raise UserError(f"The value of {name} is empty: nothing was stored. Type it at the prompt or "
                        f"give it on standard input; `invoke secrets.unset {name}` removes a secret.")
    size = len(value.encode())
    if size > VALUE_MAX_BYTES:
        raise UserError(f"The value of {name} is {size} bytes; SSM's standard tier holds at most "
                        f"{VALUE_MAX_BYTES} (4 KB): nothing was stored. Keep a larger secret elsewhere "
                        f"(e.g. in S3, encrypted) and store where it is.")
    with reported("store", path, name, carries_value=True):
        response = ssm.put_parameter(Name=path + name, Value=value, Type="SecureString", Tier="Standard",
                                     Overwrite=overwrite)
    return int(response["Version"])


def get(ssm, path: str, name: str) -> str:
    """The decrypted value of path+name."""
    check_name(name)
    with reported("read", path, name):
        return ssm.get_parameter(Name=path + name, WithDecryption=True)["Parameter"]["Value"]


def find(ssm, path: str, name: str) -> Secret:
    """path+name's version and date (not decrypted); UserError when it is not set."""
    check_name(name)
    with reported("read", path, name):
        return as_secret(path, ssm.get_parameter(Name=path + name, WithDecryption=False)["Parameter"])


def names(ssm, path: str) -> list[Secret]:
    """Every secret directly under `path`, by name (not decrypted: no value leaves AWS)."""
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=False,
                                                                 WithDecryption=False)
    with reported("list", path, ""):
        found = [as_secret(path, parameter) for page in pages for parameter in page["Parameters"]]
    return sorted(found)


def delete(ssm, path: str, name: str) -> None:
    check_name(name)
    with reported("delete", path, name):
        ssm.delete_parameter(Name=path + name)


def missing(ssm, path: str, required: Iterable[str]) -> list[str]:
    """Which of the `required` names are not set under `path`, in their order."""
    present = {secret.name for secret in names(ssm, path)}
    return [name for name in required if name not in present]


def table(found: Iterable[Secret]) -> str:
    """Name, version and last modification (UTC) in aligned columns."""
    rows = [("NAME", "VERSION", "LAST MODIFIED")]
    rows += [(secret.name, str(secret.version),
              f"{secret.last_modified.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC") for secret in found]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return "\n".join(f"{name:<{widths[0]}}  {version:>{widths[1]}}  {modified}"
                     for name, version, modified in rows)


def as_secret(path: str, parameter: dict) -> Secret:
    return Secret(parameter["Name"].removeprefix(path), int(parameter["Version"]),
                  parameter["LastModifiedDate"])


# AWS's errors, as what to do

ACTIONS = {  # what each action needs in IAM
    "store": "ssm:PutParameter and kms:Encrypt",
    "read": "ssm:GetParameter and kms:Decrypt",
    "list": "ssm:GetParametersByPath",
    "delete": "ssm:DeleteParameter",
}


@contextlib.contextmanager
def reported(action: str, path: str, name: str, *, carries_value: bool = False) -> Iterator[None]:
    """Turn the AWS errors of one call into UserErrors that say what to do. AWS's own message is
    left out when the call sent a value: it may quote it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise UserError(client_error_message(exc, action, path, name, carries_value)) from None
    except BotoCoreError as exc:
        detail = type(exc).__name__ if carries_value else str(exc)
        raise UserError(f"Could not {action} {path}{name}: {detail}. Check the network and the AWS "
                        f"settings, then run this again.") from None


def client_error_message(exc, action: str, path: str, name: str, carries_value: bool) -> str:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    detail = code if carries_value else f"{code}: {error.get('Message', '')}"
    target = path + name
    if code == "ParameterNotFound":
        return f"{name} is not set in {path}: `{LIST_COMMAND}` shows the secrets that are."
    if code == "ParameterAlreadyExists":
        return f"{name} is already set in {path}: nothing was stored."
    if code in ("AccessDeniedException", "AccessDenied"):
        return (f"AWS denied the credentials to {action} {target} ({detail}): they need "
                f"{ACTIONS[action]} on it; use credentials that have them, or ask for them.")
    if code == "ValidationException":
        return (f"AWS refused to {action} {target} ({detail}): check the name and the value, then run "
                f"this again.")
    if code == "ParameterLimitExceeded":
        return (f"The account holds as many SSM parameters as its standard tier allows in this region "
                f"({detail}): nothing was stored. Delete parameters it no longer needs "
                f"(`invoke secrets.unset NAME` for secrets), then run this again.")
    return f"AWS refused to {action} {target} ({detail}); run this again, or check the AWS console."
