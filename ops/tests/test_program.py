"""The command line's answer to a task name it does not know: through `invoke` and `inv` in the
virtual environment bootstrap.py makes, and through bootstrap.py before it installs anything more."""

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import bootstrap
import tasks
from ops.program import Program, refusal, unknown_task_message
from ops.testing import REPOSITORY

MIGRAT = "error: no task named 'migrat'; did you mean 'migrate'?\n"


def run(capsys, *words: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_code:
        Program(namespace=tasks.ns, binary="invoke").run(["invoke", *words], exit=True)
    return exit_code.value.code, capsys.readouterr().err


def test_a_typo_in_a_task_name_gets_the_nearest_task(capsys):
    assert run(capsys, "migrat") == (1, "error: no task named 'migrat'; did you mean 'migrate'?\n")


def test_a_typo_in_a_namespaced_task_gets_the_nearest_names(capsys):
    code, err = run(capsys, "db.creat")
    assert (code, err) == (1, "error: no task named 'db.creat'; did you mean 'db.create'?\n")


def test_a_word_like_no_task_points_at_the_list(capsys):
    assert run(capsys, "frobnicate") == (
        1, "error: no task named 'frobnicate'; `invoke --list` shows every task.\n")


def test_an_unknown_option_keeps_invoke_s_own_message(capsys):
    code, err = run(capsys, "migrate", "--nope")
    assert code == 1 and "--nope" in err and "no task named" not in err


def test_several_close_names_are_all_offered():
    assert unknown_task_message("serv", ["serve", "server", "test"]) == (
        "error: no task named 'serv'; did you mean 'serve' or 'server'?")


def test_help_on_a_mistyped_task_gets_the_nearest_task(capsys):
    assert run(capsys, "--help", "migrat") == (1, MIGRAT)


def test_the_check_parses_as_invoke_does_and_runs_nothing(capsys):
    assert refusal(["migrat"]) == MIGRAT.rstrip("\n")
    assert refusal(["migrate", "--nope"]) == "No idea what '--nope' is!"
    assert refusal(["test", "--pytest-args", "-x"]) is None  # a real task: not run here
    assert refusal(["--echo", "db.create", "migrate"]) is None
    assert capsys.readouterr() == ("", "")


def test_the_ready_program_finds_tasks_py_as_invoke_does():
    result = subprocess.run([sys.executable, "-c", "from ops.program import program; program.run()",
                             "migrat"], cwd=tasks.ROOT, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (1, MIGRAT)


def run_script(script: Path, *words: str) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"}
    return subprocess.run([str(script), *words], cwd=REPOSITORY, env=environment, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def script(tmp_path):
    """The `invoke` script bootstrap.py writes, for this virtual environment's python."""
    path = tmp_path / "invoke"
    path.write_text(bootstrap.console_script(Path(sys.executable)))
    path.chmod(0o755)
    return path


def test_the_environment_s_invoke_answers_a_typo_with_the_nearest_task(script):
    assert script.read_text().startswith(f"#!{sys.executable}\n")
    result = run_script(script, "migrat")
    assert (result.returncode, result.stderr) == (1, MIGRAT)


def test_the_environment_s_invoke_keeps_invoke_s_message_for_an_option(script):
    result = run_script(script, "migrate", "--nope")
    assert (result.returncode, result.stderr) == (1, "No idea what '--nope' is!\n")


def test_the_environment_s_invoke_runs_tasks_as_invoke_does(script):
    result = run_script(script, "--list")
    assert result.returncode == 0, result.stderr
    assert "db.create" in result.stdout and "bench.first-page" in result.stdout


def test_a_path_a_shebang_cannot_hold_is_started_by_sh(tmp_path):
    # This virtual environment seen through a directory whose name has a space.
    spaced = tmp_path / "my projects"
    spaced.symlink_to(sys.prefix, target_is_directory=True)
    header = bootstrap.script_header(spaced / "bin" / "python")
    assert header.startswith("#!/bin/sh\n")
    script = tmp_path / "invoke"
    script.write_text(bootstrap.console_script(spaced / "bin" / "python"))
    script.chmod(0o755)
    result = run_script(script, "migrat")
    assert (result.returncode, result.stderr) == (1, MIGRAT)


# What pip writes for invoke's console script (invoke.main's program: "No idea what 'migrat' is!").
PIP_S_SCRIPT = """#!{python}
import re
import sys
from invoke.main import program
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(program.run())
"""


@pytest.fixture
def runtime_only_venv(tmp_path):
    """A virtual environment whose runtime lock's stamp is current and the development lock's is
    not: it sees this one's packages (a .pth line; whatever it installed would stay its own), and
    invoke's scripts are as pip writes them."""
    target = tmp_path / "venv"
    venv.EnvBuilder(symlinks=True).create(target)
    packages = sysconfig.get_path("purelib")
    (bootstrap.site_packages(target) / "this-environment.pth").write_text(f"{packages}\n")
    skip_mysql = not bootstrap.mysql_client_buildable()
    (target / bootstrap.RUNTIME_STAMP).write_text(bootstrap.lock_digest(skip_mysql, bootstrap.RUNTIME_LOCK))
    for name in ("invoke", "inv"):
        (target / "bin" / name).write_text(PIP_S_SCRIPT.format(python=target / "bin" / "python"))
        (target / "bin" / name).chmod(0o755)
    return target


def bootstrap_py(target: Path, *words: str) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name not in {"VIRTUAL_ENV", "CI"}}
    environment["LITTLE_SERVICE_VENV"] = str(target)
    return subprocess.run([sys.executable, str(REPOSITORY / "bootstrap.py"), *words], cwd=target,
                          env=environment, capture_output=True, text=True, timeout=180)


def test_bootstrap_answers_a_typo_before_it_installs_the_development_lock(runtime_only_venv):
    result = bootstrap_py(runtime_only_venv, "migrat")
    assert (result.returncode, result.stderr, result.stdout) == (1, MIGRAT, "")
    assert not (runtime_only_venv / bootstrap.STAMP).exists()  # nothing installed, nothing half-done
    option = bootstrap_py(runtime_only_venv, "test", "--nope")
    assert (option.returncode, option.stderr, option.stdout) == (1, "No idea what '--nope' is!\n", "")


def test_bootstrap_writes_the_environment_s_invoke_over_pip_s(runtime_only_venv):
    result = bootstrap_py(runtime_only_venv, "--list")  # the runtime lock: nothing to install
    assert result.returncode == 0 and "db.create" in result.stdout, result.stderr
    for name in ("invoke", "inv"):
        assert (runtime_only_venv / "bin" / name).read_text() == bootstrap.console_script(
            runtime_only_venv / "bin" / "python")
    assert run_script(runtime_only_venv / "bin" / "inv", "migrat").stderr == MIGRAT


def test_with_the_development_lock_installed_bootstrap_s_invoke_answers(runtime_only_venv):
    skip_mysql = not bootstrap.mysql_client_buildable()
    (runtime_only_venv / bootstrap.STAMP).write_text(bootstrap.lock_digest(skip_mysql, bootstrap.LOCK))
    result = bootstrap_py(runtime_only_venv, "db.creat")
    assert (result.returncode, result.stderr) == (1, "error: no task named 'db.creat'; did you mean "
                                                     "'db.create'?\n")
