"""Secrets in SSM Parameter Store: the functions against the moto server, and `invoke secrets.*` run as a
user runs them, with a value that must never show anywhere but SSM and `secrets.get`'s output."""

from __future__ import annotations

import io
import json
import secrets as random
import subprocess
import sys
from datetime import datetime

import pytest
from botocore.stub import Stubber
from invoke import Config, Context, Exit

import tasks
from ops.aws import config, secrets
from ops.aws.session import connect
from ops.errors import UserError
from ops.tasks.secrets import project_name, set_, unset
from ops.testing import REPOSITORY

PATH = "/little-service/production/"


@pytest.fixture
def ssm(aws):
    return connect("eu-west-1").client("ssm")


def a_value() -> str:
    return f"value-{random.token_hex(16)}"


# The functions

def test_one_path_per_project_and_environment():
    assert secrets.path("little-service", "production") == PATH
    with pytest.raises(UserError, match="cannot be part of an SSM path"):
        secrets.path("little service", "production")


def test_a_value_round_trips_and_each_change_is_a_new_version(ssm):
    first, second = a_value(), a_value()
    assert secrets.put(ssm, PATH, "SECRET_KEY", first) == 1
    assert secrets.get(ssm, PATH, "SECRET_KEY") == first
    assert secrets.put(ssm, PATH, "SECRET_KEY", second) == 2
    assert secrets.get(ssm, PATH, "SECRET_KEY") == second
    stored = ssm.get_parameter(Name=PATH + "SECRET_KEY")["Parameter"]
    assert (stored["Type"], stored["Version"]) == ("SecureString", 2)


def test_without_overwrite_a_set_secret_stays(ssm):
    kept = a_value()
    secrets.put(ssm, PATH, "SECRET_KEY", kept)
    with pytest.raises(UserError, match="SECRET_KEY is already set in /little-service/production/"):
        secrets.put(ssm, PATH, "SECRET_KEY", a_value(), overwrite=False)
    assert secrets.get(ssm, PATH, "SECRET_KEY") == kept


def test_the_list_holds_names_and_versions_never_values(ssm):
    values = {f"NAME_{index:02}": a_value() for index in range(12)}  # more than one page (10)
    for name, value in values.items():
        secrets.put(ssm, PATH, name, value)
    secrets.put(ssm, PATH, "NAME_03", a_value())
    ssm.put_parameter(Name="/little-service/ci/OTHER", Value="x", Type="SecureString")
    ssm.put_parameter(Name=PATH + "nested/DEEPER", Value="x", Type="SecureString")

    found = secrets.names(ssm, PATH)

    assert [secret.name for secret in found] == sorted(values)
    assert {secret.name: secret.version for secret in found}["NAME_03"] == 2
    assert all(isinstance(secret.last_modified, datetime) for secret in found)
    shown = repr(found) + secrets.table(found)
    assert not [value for value in values.values() if value in shown]
    assert secrets.table(found).splitlines()[0].split() == ["NAME", "VERSION", "LAST", "MODIFIED"]
    assert secrets.table(found).splitlines()[4].split()[:2] == ["NAME_03", "2"]


def test_unset_removes_and_a_missing_secret_is_named(ssm):
    secrets.put(ssm, PATH, "REDIS_URL", a_value())
    assert secrets.find(ssm, PATH, "REDIS_URL").version == 1
    secrets.delete(ssm, PATH, "REDIS_URL")
    assert secrets.names(ssm, PATH) == []
    for call in (secrets.get, secrets.find, secrets.delete):
        with pytest.raises(UserError, match=r"REDIS_URL is not set in /little-service/production/: "
                                            r"`invoke secrets.list` shows"):
            call(ssm, PATH, "REDIS_URL")


def test_missing_names_the_required_secrets_not_set(ssm):
    secrets.put(ssm, PATH, "SECRET_KEY", a_value())
    assert secrets.missing(ssm, PATH, ("SECRET_KEY",)) == []
    assert secrets.missing(ssm, PATH, ("REDIS_URL", "SECRET_KEY", "DATABASE_URL")) == ["REDIS_URL",
                                                                                       "DATABASE_URL"]
    assert secrets.missing(ssm, "/little-service/other/", ("SECRET_KEY",)) == ["SECRET_KEY"]


@pytest.mark.parametrize("name", ["secret_key", "Secret_Key", "1KEY", "_KEY", "KEY-1", "KEY/X", "KEY ",
                                  "", "A" * 101, "ÄKEY"])
def test_a_name_is_an_environment_variable_name(ssm, name):
    with pytest.raises(UserError, match="is not a secret's name: a secret is an environment variable"):
        secrets.put(ssm, PATH, name, a_value())
    assert secrets.names(ssm, PATH) == []


def test_the_longest_name_and_value_are_stored(ssm):
    name, value = "A" * 100, "x" * 4096
    secrets.put(ssm, PATH, name, value)
    assert secrets.get(ssm, PATH, name) == value


@pytest.mark.parametrize(("value", "message"), [
    ("", "The value of SECRET_KEY is empty: nothing was stored"),
    ("x" * 4097, "The value of SECRET_KEY is 4097 bytes; SSM's standard tier holds at most 4096"),
    ("é" * 2049, "is 4098 bytes"),  # 4 KB of UTF-8, not of characters
])
def test_an_empty_or_too_long_value_is_refused(ssm, value, message):
    with pytest.raises(UserError, match=message) as raised:
        secrets.put(ssm, PATH, "SECRET_KEY", value)
    assert not value or value not in str(raised.value)
    assert secrets.names(ssm, PATH) == []


@pytest.mark.parametrize(("code", "says"), [
    ("AccessDeniedException", "AWS denied the credentials to store /little-service/production/SECRET_KEY "
                              "(AccessDeniedException): they need ssm:PutParameter and kms:Encrypt"),
    ("ValidationException", "AWS refused to store /little-service/production/SECRET_KEY "
                            "(ValidationException): check the name and the value"),
    ("ParameterLimitExceeded", "Delete parameters it no longer needs"),
    ("ThrottlingException", "AWS refused to store /little-service/production/SECRET_KEY "
                            "(ThrottlingException); run this again"),
])
def test_aws_errors_say_what_to_do_and_never_quote_the_value(ssm, code, says):
    value = a_value()
    with Stubber(ssm) as stubber:
        # AWS's validation messages quote what was sent: "Value '...' at 'value' failed to satisfy ..."
        stubber.add_client_error("put_parameter", service_error_code=code,
                                 service_message=f"1 validation error detected: Value '{value}' at 'value'")
        with pytest.raises(UserError) as raised:
            secrets.put(ssm, PATH, "SECRET_KEY", value)
    assert says in str(raised.value)
    assert value not in str(raised.value)


def test_errors_of_calls_without_a_value_keep_aws_message(ssm):
    with Stubber(ssm) as stubber:
        stubber.add_client_error("get_parameter", service_error_code="AccessDeniedException",
                                 service_message="not authorized to perform ssm:GetParameter")
        with pytest.raises(UserError, match="not authorized to perform ssm:GetParameter.*: they need "
                                            "ssm:GetParameter and kms:Decrypt"):
            secrets.get(ssm, PATH, "SECRET_KEY")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_value_is_typed_twice_at_a_terminal():
    answers = iter(["typed", "typed"])
    assert secrets.read_value(Terminal(), "SECRET_KEY: ", ask=lambda prompt: next(answers)) == "typed"
    answers = iter(["typed", "mistyped"])
    with pytest.raises(UserError, match="The two entries differ: nothing was stored"):
        secrets.read_value(Terminal(), "SECRET_KEY: ", ask=lambda prompt: next(answers))


@pytest.mark.parametrize(("given", "value"), [
    ("abc\n", "abc"), ("abc", "abc"), ("abc\r\n", "abc"), ("abc\n\n", "abc\n"),
    ("-----BEGIN KEY-----\nxyz\n-----END KEY-----\n", "-----BEGIN KEY-----\nxyz\n-----END KEY-----"),
])
def test_standard_input_is_the_value_less_one_trailing_newline(given, value):
    assert secrets.read_value(io.StringIO(given), "unused", ask=pytest.fail) == value


def test_the_region_comes_from_the_environments_file(tmp_path):
    (tmp_path / "production.json").write_text(json.dumps({"Region": "eu-central-1", "Parameters": {}}))
    assert config.load("little-service", "production", aws_dir=tmp_path).region == "eu-central-1"
    with pytest.raises(UserError, match="staging has no AWS environment"):
        config.load("little-service", "staging", aws_dir=tmp_path)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserError, match="broken.json is not a JSON object"):
        config.load("little-service", "broken", aws_dir=tmp_path)


def test_the_project_name_comes_from_the_config():
    assert project_name(Context(Config(overrides=tasks.ns.configuration()))) == "little-service"
    assert project_name(Context(Config(overrides={"project": {"name": "other"}}))) == "other"


# The tasks at a terminal

@pytest.fixture
def terminal(ssm, monkeypatch):
    """The tasks run in this process, standard input a terminal; `ssm` the client they reach."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setattr(sys, "stdin", Terminal())
    return ssm


def test_set_at_a_terminal_asks_twice_without_echo(terminal, monkeypatch, capsys):
    value, prompts = a_value(), []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or value)
    set_(Context(Config(overrides=tasks.ns.configuration())), "SECRET_KEY", env="production")
    assert prompts == ["SECRET_KEY for /little-service/production/: ", "Again, to confirm: "]
    assert secrets.get(terminal, PATH, "SECRET_KEY") == value
    assert value not in "".join(capsys.readouterr())


def test_unset_at_a_terminal_deletes_once_the_name_is_typed_back(terminal, monkeypatch, capsys):
    secrets.put(terminal, PATH, "SECRET_KEY", a_value())
    monkeypatch.setattr("builtins.input", lambda prompt: "SECRET")
    with pytest.raises(Exit, match="error: Not confirmed: SECRET_KEY was not deleted"):
        unset(Context(Config(overrides=tasks.ns.configuration())), "SECRET_KEY", env="production")
    assert [secret.name for secret in secrets.names(terminal, PATH)] == ["SECRET_KEY"]
    monkeypatch.setattr("builtins.input", lambda prompt: print(prompt) or "SECRET_KEY")
    unset(Context(Config(overrides=tasks.ns.configuration())), "SECRET_KEY", env="production")
    assert secrets.names(terminal, PATH) == []
    assert "Delete SECRET_KEY (version 1) from /little-service/production/ (account 123456789012, " \
           "eu-west-1)? Type its name to confirm:" in capsys.readouterr().out


# The tasks, as a user runs them

# `python -m invoke ARGS` with the secrets collection in the namespace, while tasks.py does not add it.
WITH_SECRETS = """
import sys

import tasks
from invoke import Program
from ops.tasks import secrets

if "secrets" not in tasks.ns.collections:
    tasks.ns.add_collection(secrets.ns)
Program(namespace=tasks.ns).run(["invoke", *sys.argv[1:]])
"""


@pytest.fixture
def run(aws, tmp_path):
    """`invoke ARGS` in a process of its own, `stdin` its standard input; temporary files in tmp_path."""
    env = {**aws, "AWS_REGION": "eu-west-1", "TMPDIR": str(tmp_path)}
    if "secrets" in tasks.ns.collections:
        command = [sys.executable, "-m", "invoke"]
    else:
        command = [sys.executable, "-c", WITH_SECRETS]

    def run(*arguments: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([*command, *arguments], cwd=REPOSITORY, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    return run


def files_holding(text: str, *directories) -> list[str]:
    result = subprocess.run(["grep", "-rlsF", "--exclude-dir=.venv", "--exclude-dir=.git", "-e", text,
                             *map(str, directories)], capture_output=True, text=True, timeout=120)
    return result.stdout.splitlines()


def test_set_list_get_unset_and_the_value_shows_only_in_get(run, tmp_path):
    value = a_value()

    stored = run("secrets.set", "SECRET_KEY", "--env", "production", stdin=value + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "SECRET_KEY set in /little-service/production/ (account 123456789012, eu-west-1): version 1" \
        in stored.stdout
    listed = run("secrets.list", "--env", "production")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[2].split()[:2] == ["SECRET_KEY", "1"]
    got = run("secrets.get", "SECRET_KEY", "--env", "production")
    assert (got.returncode, got.stdout) == (0, value + "\n"), got.stderr
    removed = run("secrets.unset", "SECRET_KEY", "--env", "production", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert "SECRET_KEY deleted from /little-service/production/" in removed.stdout
    assert "no secrets in /little-service/production/" in run("secrets.list", "--env", "production").stdout

    for result in (stored, listed, removed):
        assert value not in result.stdout + result.stderr
    assert value not in got.stderr
    assert files_holding(value, REPOSITORY, tmp_path) == []


def test_a_value_cannot_be_given_on_the_command_line(run):
    value = a_value()
    for arguments in (["--value", value], [value], ["--env", "production", value]):
        result = run("secrets.set", "SECRET_KEY", *arguments, stdin="from stdin\n")
        assert result.returncode != 0
        assert "No idea what" in result.stderr
    assert "no secrets in" in run("secrets.list", "--env", "production").stdout


def test_unset_asks_for_the_name_unless_yes(run):
    run("secrets.set", "SECRET_KEY", "--env", "production", stdin=a_value())
    refused = run("secrets.unset", "SECRET_KEY", "--env", "production")
    assert refused.returncode == 1
    assert "asks you to type its name back, and there is no terminal to ask on: pass --yes" in refused.stderr
    assert "SECRET_KEY" in run("secrets.list", "--env", "production").stdout


@pytest.mark.parametrize(("arguments", "message"), [
    (["secrets.get", "SECRET_KEY", "--env", "local"],
     "error: local has no AWS environment (aws/local.json does not exist): its settings and secrets "
     "come from .env or the process environment"),
    (["secrets.list", "--env", "ci"], "error: ci has no AWS environment"),
    (["secrets.get", "SECRET_KEY", "--env", "production"],
     "error: SECRET_KEY is not set in /little-service/production/: `invoke secrets.list` shows"),
    (["secrets.set", "secret-key", "--env", "production"], "error: 'secret-key' is not a secret's name"),
    (["secrets.set", "SECRET_KEY", "--env", "production"], "error: The value of SECRET_KEY is empty"),
    (["secrets.unset", "SECRET_KEY", "--env", "production", "--yes"], "error: SECRET_KEY is not set"),
])
def test_mistakes_end_in_a_message(run, arguments, message):
    result = run(*arguments)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
