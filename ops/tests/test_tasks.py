"""tasks.py itself: the task list, argument handling, and the messages for bad input."""

import os
import re
import subprocess
import sys

import pytest
from invoke import Config, Context, Exit, MockContext, Result

import tasks
from ops.tasks import core
from ops.testing import free_port, invoke, with_wrong_password

EXPECTED_TASKS = {"dev.start", "dev.web", "test", "shell", "manage", "migrate", "serve", "wait-for",
                  "doctor", "lint", "db.create", "createsuperuser", "lock", "healthcheck", "celery.worker",
                  "celery.beat", "build.image", "bench.run", "docker.down", "docker.shell", "docker.logs",
                  "aws.bootstrap", "aws.teardown", "secrets.set", "secrets.get", "secrets.list",
                  "secrets.unset"}


def clean_env(**overrides):
    env = {key: value for key, value in os.environ.items()
           if key not in {"APP_ENV", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CI"}}
    env.update(overrides)
    return env


def listed_names() -> dict[str, set[str]]:
    """Each task of `invoke --list` with the names that call it (a collection's default answers to
    the collection's name too: `dev.start (dev)`)."""
    result = invoke("--list", check=True)
    return {match.group(1): {match.group(1), *filter(None, (match.group(2) or "").split(", "))}
            for match in re.finditer(r"^  (\S+)(?: \(([^)]*)\))?", result.stdout, re.M)}


def listed_tasks() -> set[str]:
    return set(listed_names())


def test_every_task_is_listed_with_a_one_line_docstring():
    assert listed_tasks() >= EXPECTED_TASKS
    for collection in [tasks.ns, *tasks.ns.collections.values()]:
        for task in collection.tasks.values():
            first_line = (task.__doc__ or "").strip().splitlines()[0]
            assert first_line.endswith("."), f"{task.name} needs a one-line docstring"


# Run on a fresh import: invoke hands each help text over once (Task.get_arguments pops it), so
# tasks another test already parsed would show none here.
# (-h and -V are invoke's own help and version: a task option taking either one runs the task when
# its user asked for help.)
PARAMETER_PROBLEMS = """
import tasks
for collection in [tasks.ns, *tasks.ns.collections.values()]:
    for task in collection.tasks.values():
        for argument in task.get_arguments():
            if not argument.help:
                print(f"{task.name} --{argument.name} has no help")
            if {"h", "V"} & set(argument.names):
                print(f"{task.name} --{argument.name} takes -h or -V")
"""


def test_every_parameter_has_help_and_none_takes_help_s_or_version_s_flag():
    result = subprocess.run([sys.executable, "-c", PARAMETER_PROBLEMS], cwd=tasks.ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", result.stdout


def test_readme_shows_every_task_and_only_real_ones():
    readme = (tasks.ROOT / "README.md").read_text()
    names = listed_names()
    for task, callable_as in names.items():
        assert any(f"`invoke {name}" in readme for name in callable_as), f"README misses {task}"
    every_name = set().union(*names.values())
    shown = set(re.findall(r"`invoke ([a-z][a-z0-9_.-]*)", readme))
    assert shown <= every_name, f"README shows tasks that do not exist: {shown - every_name}"



def message_task_names() -> dict[str, set[str]]:
    """Each `invoke X` in a string of ops/ that is not a docstring (the messages, hints and fixes
    the tasks print), with the places that name it."""
    import ast

    named: dict[str, set[str]] = {}
    for path in sorted((tasks.ROOT / "ops").rglob("*.py")):
        if "tests" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for name in re.findall(r"\binvoke ([a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)?)", node.value):
                    named.setdefault(name, set()).add(f"{path.relative_to(tasks.ROOT)}:{node.lineno}")
    return named


def test_every_message_names_only_tasks_that_exist():
    named = message_task_names()
    assert {"db.create", "wait-for", "build", "dev"} <= set(named)  # the scan reads the messages
    every_name = set().union(*listed_names().values())
    assert {name: places for name, places in named.items() if name not in every_name} == {}

@pytest.mark.parametrize(
    ("arguments", "env", "message"),
    [
        (["migrate", "--env", "staging"], {},
         "Unknown environment 'staging'. Choose one of: local, ci, production"),
        (["serve", "--env", "production"], {},
         "SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, NUM_PROXIES are not set"),
        (["migrate"], {"DATABASE_URL": "postgres://u@h/d"}, "is not supported: use sqlite"),
        (["migrate"], {"DATABASE_URL": "mysql://u:pw@127.0.0.1:3306/"}, "names no database"),
        (["manage", " "], {}, "Name a manage.py command"),
        (["createsuperuser", "--username", "a", "--email", "a@example.com"], {},
         "No password given: pass --password or set DJANGO_SUPERUSER_PASSWORD"),
        (["test", "--env", "ci", "--wait", "1"], {"DATABASE_URL": "sqlite:///x.db"}, "needs MySQL"),
        (["wait-for"], {"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL is not a Redis URL"),
        (["migrate"], {"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL is not a Redis URL"),
    ],
)
def test_bad_input_ends_in_a_message_not_a_traceback(arguments, env, message):
    result = invoke(*arguments, env=clean_env(**env))
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    assert "pw@" not in result.stderr  # passwords are redacted


def test_wait_for_names_what_never_came_up():
    port = free_port()
    result = invoke("wait-for", "--env", "ci", "--timeout", "1",
                    env=clean_env(DATABASE_URL=f"mysql://root@127.0.0.1:{port}/x",
                                  REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    assert result.returncode == 1
    assert f"database (mysql://root@127.0.0.1:{port}/x) never came up within 1s" in result.stderr
    assert f"redis (redis://127.0.0.1:{port}/0) never came up within 1s" in result.stderr
    assert "waiting for database, redis" in result.stdout
    assert "Traceback" not in result.stderr


def test_commands_needing_the_database_say_when_it_is_down():
    port = free_port()
    result = invoke("migrate", env=clean_env(DATABASE_URL=f"mysql://root:pw@127.0.0.1:{port}/x"))
    assert result.returncode == 1
    assert f"The database (mysql://root:***@127.0.0.1:{port}/x) is not reachable" in result.stderr
    assert "invoke wait-for" in result.stderr
    assert "Traceback" not in result.stderr and "pw@" not in result.stderr


def test_unknown_option_is_refused_by_invoke():
    result = invoke("migrate", "--nope")
    assert result.returncode != 0
    assert "--nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_runs_manage_migrate_in_the_environment(monkeypatch, tmp_path):
    # SQLite: whatever database the run's own environment names (ci's may not exist).
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    c = MockContext(run={re.compile(r".*manage\.py migrate --noinput$"): Result("")})
    core.migrate(c, env="local")
    command = c.run.call_args.args[0]
    assert command.endswith("application_service/manage.py migrate --noinput")
    assert c.run.call_args.kwargs["env"]["DJANGO_SETTINGS_MODULE"] == "application_service.environments.local"


LINTED_CLEAN = "(accounts, 0002_user_nickname)... OK\n*** Summary ***\n"
LINTED_BREAKING = ("(accounts, 0002_remove_user_last_name)... ERR\n"
                   "\tDROPPING columns (table: accounts_user, column: last_name)\n*** Summary ***\n")


def linting_context(monkeypatch, tmp_path, linted: Result) -> MockContext:
    """A MockContext whose lintmigrations prints `linted` and whose migrate succeeds."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    return MockContext(run={re.compile(r".*manage\.py lintmigrations .*"): linted,
                            re.compile(r".*manage\.py migrate --noinput$"): Result("")})


def ran(c: MockContext) -> list[str]:
    """The manage.py command lines run, in order."""
    return [call.args[0].split("manage.py ", 1)[1] for call in c.run.call_args_list]


def test_migrate_with_lint_lints_the_unapplied_migrations_first(monkeypatch, tmp_path):
    c = linting_context(monkeypatch, tmp_path, Result(LINTED_CLEAN))
    core.migrate(c, env="local", lint=True)
    assert ran(c) == ["lintmigrations --unapplied-migrations --no-cache --quiet ignore", "migrate --noinput"]
    assert c.run.call_args_list[0].kwargs["warn"] is True  # its exit code is read, not raised


def test_migrate_with_lint_refuses_a_breaking_migration_and_migrates_nothing(monkeypatch, tmp_path):
    c = linting_context(monkeypatch, tmp_path, Result(LINTED_BREAKING, exited=1))
    with pytest.raises(Exit, match="^error: Nothing was migrated: this migration") as refused:
        core.migrate(c, env="local", lint=True)
    assert "accounts.0002_remove_user_last_name (DROPPING columns" in str(refused.value.message)
    assert [command.split()[0] for command in ran(c)] == ["lintmigrations"]


def test_migrate_allow_breaking_warns_then_migrates(monkeypatch, tmp_path, capsys):
    c = linting_context(monkeypatch, tmp_path, Result(LINTED_BREAKING, exited=1))
    core.migrate(c, env="local", lint=True, allow_breaking=True)
    assert [command.split()[0] for command in ran(c)] == ["lintmigrations", "migrate"]
    assert capsys.readouterr().err.startswith(
        "warning: applying backward-incompatible migrations (--allow-breaking): "
        "accounts.0002_remove_user_last_name")


def test_migrate_without_lint_runs_no_linter(monkeypatch, tmp_path):
    c = linting_context(monkeypatch, tmp_path, Result(LINTED_BREAKING, exited=1))
    core.migrate(c, env="local")
    assert ran(c) == ["migrate --noinput"]


def test_lint_checks_deploy_under_production_with_stand_ins_only_for_missing(monkeypatch):
    for key in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    c = MockContext(run={re.compile(".*"): Result("")}, repeat=True)
    core.lint(c)
    commands = [(call.args[0], call.kwargs["env"]) for call in c.run.call_args_list]
    assert [command.split()[-1] for command, _ in commands[:1]] == ["."]
    deploy, env = commands[-1]
    assert deploy.endswith("check --deploy --fail-level WARNING")
    assert env["DJANGO_SETTINGS_MODULE"] == "application_service.environments.production"
    assert len(env["SECRET_KEY"]) >= 50


def test_serve_defaults_come_from_config(monkeypatch):
    launched = {}
    monkeypatch.setattr(core, "replace_process", lambda argv, env: launched.update(argv=argv, env=env))
    c = Context(config=Config(overrides=tasks.ns.configuration()))
    c.config.serve.workers = 7
    core.serve(c, env="local", bind="127.0.0.1:9999")
    argv = launched["argv"]
    assert argv[argv.index("--workers") + 1] == "7"
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:9999"
    assert argv[argv.index("--timeout") + 1] == "30"


def test_a_user_error_in_a_pre_task_is_a_message_too(capsys):
    from invoke import Collection, Program

    from ops.errors import UserError
    from ops.tasks import task

    @task
    def prepare(c):
        """Fail as a user's mistake would."""
        raise UserError("the pre-task found nothing to prepare")

    @task(pre=[prepare])
    def main(c):
        """Never reached."""
        raise AssertionError("main ran after its pre-task failed")

    program = Program(namespace=Collection(prepare, main), binary="invoke")
    with pytest.raises(SystemExit) as exit_code:
        program.run(["invoke", "main"], exit=True)
    assert exit_code.value.code == 1
    assert capsys.readouterr().err.strip() == "error: the pre-task found nothing to prepare"


def test_a_refused_database_password_names_the_password_not_a_stopped_server(mysql_url):
    wrong = with_wrong_password(mysql_url)
    result = invoke("migrate", env=clean_env(DATABASE_URL=wrong))
    assert result.returncode == 1
    assert result.stderr.startswith("error: The database (mysql://") and ":***@" in result.stderr
    assert ("refused the connection: OperationalError: (1045, \"Access denied for user "
            in result.stderr)
    assert result.stderr.rstrip().endswith(
        "Check the user and password in DATABASE_URL: the server answered and refused them.")
    assert "start-stop-daemon" not in result.stderr and "not-the-password" not in result.stderr


def test_production_secrets_may_come_from_dot_env_and_the_message_says_so():
    result = invoke("migrate", "--env", "production", env=clean_env())
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: The production environment cannot start: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, "
        "REDIS_URL, NUM_PROXIES are not set. Set them in the process environment or the git-ignored "
        ".env (on AWS: SSM Parameter Store); env/production.env holds non-secret values only.")


def test_dev_docker_without_a_compose_tool_says_what_is_missing_and_how_to_go_on(tmp_path):
    """A docker CLI without its compose plugin, and no docker-compose or podman-compose."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\necho \"docker: unknown command: docker $1\" >&2\nexit 1\n")
    docker.chmod(0o755)
    result = invoke("dev", "--docker", env=clean_env(PATH=str(bin_dir)))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: No compose tool: the docker CLI has no compose plugin (`docker compose` is not a "
        "command) and neither docker-compose nor podman-compose is installed. Install one (Docker's "
        "docker-compose-plugin package, or pip install podman-compose beside podman), or run without "
        "containers: `invoke dev` serves on SQLite and the embedded broker.")
    assert "unknown command" not in result.stderr + result.stdout
