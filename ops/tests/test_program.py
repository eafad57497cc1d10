"""The command line's answer to a task name it does not know."""

import pytest

import tasks
from ops.program import Program, unknown_task_message


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


def test_the_ready_program_finds_tasks_py_as_invoke_does():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", "from ops.program import program; program.run()",
                             "migrat"], cwd=tasks.ROOT, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        1, "error: no task named 'migrat'; did you mean 'migrate'?\n")
