"""bootstrap.py installs what the task needs: the runtime lock for serving and developing, the
development lock for the rest; each lock once while it is unchanged; both locks agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bootstrap
from ops.locks import requirement_names
from ops.testing import REPOSITORY, WITHOUT_MODULES_PREAMBLE

CI_COMMAND = ["test"]  # .ci/run: python3 bootstrap.py test


@pytest.mark.parametrize("argv", [["dev"], ["dev", "--address", "127.0.0.1:9000"], ["dev.web"],
                                  ["dev", "--docker"], ["serve"], ["celery"], ["celery.beat"],
                                  ["migrate", "--lint"], ["shell"], ["manage", "showmigrations"],
                                  ["wait-for"], ["healthcheck"], [], ["--list"], ["--help", "test"]])
def test_serving_and_developing_install_only_the_runtime_lock(argv):
    assert bootstrap.lock_for(argv) == bootstrap.RUNTIME_LOCK == REPOSITORY / "requirements.txt"


@pytest.mark.parametrize("argv", [CI_COMMAND, ["test", "--env", "ci"], ["lint"], ["audit"], ["doctor"],
                                  ["lock"], ["build", "--push"], ["deploy", "--env", "production"],
                                  ["bench"], ["bench.first-page"], ["aws.bootstrap"],
                                  ["a-task-added-later"], ["--echo", "test"]])
def test_every_other_task_installs_the_development_lock(argv):
    assert bootstrap.lock_for(argv) == bootstrap.LOCK == REPOSITORY / "requirements-dev.txt"


def listed_tasks() -> set[str]:
    import tasks

    names = set()
    for collection_name, collection in [("", tasks.ns), *tasks.ns.collections.items()]:
        prefix = f"{collection_name}." if collection_name else ""
        for name in collection.tasks:
            names.add(prefix + name)
        if collection_name and collection.default:
            names.add(collection_name)
    return names


def test_every_runtime_task_exists():
    assert listed_tasks() >= bootstrap.RUNTIME_TASKS
    assert "test" in listed_tasks() and "test" not in bootstrap.RUNTIME_TASKS


# What invoke dev runs (runserver, a Celery worker and beat, under honcho): the local settings,
# the URLs, Django's checks and the Celery app, with every module only the development lock brings
# made unimportable.
RUNTIME_ONLY = WITHOUT_MODULES_PREAMBLE + """
import django
from django.core.management import call_command
import honcho.manager
import ops.tasks.dev
django.setup()
call_command("check")
import django.urls
django.urls.resolve("/")
from application_service.celery import app
app.loader.import_default_modules()
print("runtime lock suffices")
"""


def test_invoke_dev_needs_nothing_from_the_development_lock(tmp_path):
    from importlib.metadata import packages_distributions

    from packaging.utils import canonicalize_name

    development_only = (requirement_names(REPOSITORY / "requirements-dev.txt")
                        - requirement_names(REPOSITORY / "requirements.txt"))
    blocked = {module for module, distributions in packages_distributions().items()
               if all(canonicalize_name(name) in development_only for name in distributions)}
    assert {"pytest", "playwright", "moto", "boto3"} <= blocked
    environment = {name: value for name, value in os.environ.items()
                   if name not in {"APP_ENV", "DATABASE_URL", "REDIS_URL", "CI"}}
    environment.update(DJANGO_SETTINGS_MODULE="application_service.environments.local",
                       PYTHONPATH=os.pathsep.join([str(REPOSITORY / "application_service"), str(REPOSITORY)]),
                       DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run([sys.executable, "-c", RUNTIME_ONLY, *sorted(blocked)], cwd=REPOSITORY,
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runtime lock suffices" in result.stdout


def test_the_development_lock_holds_the_runtime_lock_at_the_same_versions_and_hashes():
    runtime = bootstrap.locked_packages(bootstrap.RUNTIME_LOCK.read_text())
    development = bootstrap.locked_packages(bootstrap.LOCK.read_text())
    assert set(runtime) == requirement_names(bootstrap.RUNTIME_LOCK)  # the parser misses none
    assert set(development) == requirement_names(bootstrap.LOCK)
    assert {"django", "celery", "honcho", "mysqlclient"} <= set(runtime)
    assert {"pytest", "playwright", "moto"} <= set(development) - set(runtime)
    assert all(version and hashes for version, hashes in development.values())
    differing = {name: (pins, development.get(name)) for name, pins in runtime.items()
                 if development.get(name) != pins}
    assert differing == {}, "run `invoke lock`: requirements-dev.in is compiled with -c requirements.txt"


def test_the_development_lock_is_compiled_on_top_of_the_runtime_lock():
    source = (REPOSITORY / "requirements-dev.in").read_text().splitlines()
    assert "-c requirements.txt" in source and "-r requirements.in" in source


def test_the_lock_parser_reads_versions_and_hashes():
    text = ("# header\nDjango==5.2.1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
            "zope.interface==7.0 --hash=sha256:cc\n")
    assert bootstrap.locked_packages(text) == {"django": ("5.2.1", frozenset({"sha256:aa", "sha256:bb"})),
                                               "zope-interface": ("7.0", frozenset({"sha256:cc"}))}


@pytest.fixture
def locks(tmp_path, monkeypatch):
    """Two small locks in tmp_path in place of the repository's, and a virtual environment whose
    pip is recorded, not run: each call's command and the requirements it was given."""
    runtime, development = tmp_path / "requirements.txt", tmp_path / "requirements-dev.txt"
    runtime.write_text("django==5.2.1 \\\n    --hash=sha256:aa\n"
                       "mysqlclient==2.3.2 \\\n    --hash=sha256:bb\n")
    development.write_text(runtime.read_text() + "pytest==8.4.0 \\\n    --hash=sha256:cc\n")
    monkeypatch.setattr(bootstrap, "RUNTIME_LOCK", runtime)
    monkeypatch.setattr(bootstrap, "LOCK", development)
    monkeypatch.setattr(bootstrap, "STAMPS", {runtime: bootstrap.RUNTIME_STAMP,
                                              development: bootstrap.STAMP})
    monkeypatch.setattr(bootstrap, "WHAT_IS_IN", {runtime: "runtime", development: "development"})
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    monkeypatch.setenv("LITTLE_SERVICE_VENV", str(venv))
    monkeypatch.delenv("CI", raising=False)
    installs = []

    def run(command, check=False):
        requirements = Path(command[command.index("-r") + 1])
        installs.append((command, bootstrap.locked_packages(requirements.read_text())))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(bootstrap.subprocess, "run", run)
    monkeypatch.setattr(bootstrap, "mysql_client_buildable", lambda: True)
    return installs


def installed(installs) -> list[set[str]]:
    return [set(packages) for _, packages in installs]


def test_dev_then_test_install_each_lock_once(locks):
    bootstrap.ensure_environment(bootstrap.lock_for(["dev"]))
    assert installed(locks) == [{"django", "mysqlclient"}]
    bootstrap.ensure_environment(bootstrap.lock_for(["dev"]))  # the second run installs nothing
    assert len(locks) == 1
    bootstrap.ensure_environment(bootstrap.lock_for(CI_COMMAND))  # test tools arrive with `test`
    assert installed(locks) == [{"django", "mysqlclient"}, {"django", "mysqlclient", "pytest"}]
    bootstrap.ensure_environment(bootstrap.lock_for(CI_COMMAND))
    bootstrap.ensure_environment(bootstrap.lock_for(["dev"]))  # the development lock holds the runtime's
    assert len(locks) == 2


def test_a_changed_lock_is_installed_again(locks):
    bootstrap.ensure_environment(bootstrap.RUNTIME_LOCK)
    bootstrap.RUNTIME_LOCK.write_text(bootstrap.RUNTIME_LOCK.read_text().replace("5.2.1", "5.2.2"))
    bootstrap.ensure_environment(bootstrap.RUNTIME_LOCK)
    assert [packages["django"][0] for _, packages in locks] == ["5.2.1", "5.2.2"]


def test_a_first_development_task_installs_the_runtime_lock_first(locks):
    bootstrap.ensure_environment(bootstrap.lock_for(CI_COMMAND))
    assert installed(locks) == [{"django", "mysqlclient"}, {"django", "mysqlclient", "pytest"}]


def test_every_install_checks_hashes_shows_pip_s_progress_and_keeps_the_machine_s_index(locks):
    bootstrap.ensure_environment(bootstrap.RUNTIME_LOCK)
    [(command, _)] = locks
    # The environment has no pip of its own: this interpreter's installs into it.
    python = str(bootstrap.venv_dir() / "bin" / "python")
    assert command[:6] == [sys.executable, "-m", "pip", "--python", python, "install"]
    assert "--require-hashes" in command and "--no-deps" in command
    # Compiling is most of a warm install's time; imports compile what they use, when they may write it.
    assert ("--no-compile" in command) is (not sys.flags.dont_write_bytecode)
    assert not {"--quiet", "-q", "--index-url", "-i", "--extra-index-url", "--no-index",
                "--find-links"} & set(command)


@pytest.mark.parametrize("writes_bytecode", [True, False])
def test_modules_are_compiled_at_install_only_where_python_writes_no_bytecode(writes_bytecode):
    flags = ["-c"] if writes_bytecode else ["-B", "-c"]
    code = "import bootstrap; print(bootstrap.pip_install_command(['pip'], 'r'))"
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run([sys.executable, *flags, code], cwd=REPOSITORY, env=environment,
                            capture_output=True, text=True, check=True)
    assert ("--no-compile" in result.stdout) is writes_bytecode


@pytest.mark.parametrize("argv", [["dev"], CI_COMMAND])
def test_without_mysql_headers_either_lock_leaves_the_driver_out(locks, monkeypatch, argv):
    monkeypatch.setattr(bootstrap, "mysql_client_buildable", lambda: False)
    bootstrap.ensure_environment(bootstrap.lock_for(argv))
    assert locks and all("mysqlclient" not in packages and "django" in packages for _, packages in locks)
    installs = len(locks)
    bootstrap.ensure_environment(bootstrap.lock_for(argv))
    assert len(locks) == installs
    # Once the headers are there, the driver's lock is installed with it.
    monkeypatch.setattr(bootstrap, "mysql_client_buildable", lambda: True)
    bootstrap.ensure_environment(bootstrap.lock_for(argv))
    assert "mysqlclient" in locks[-1][1]


def test_ci_still_refuses_to_go_without_the_mysql_driver(locks, monkeypatch):
    monkeypatch.setattr(bootstrap, "mysql_client_buildable", lambda: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(SystemExit):
        bootstrap.ensure_environment(bootstrap.lock_for(CI_COMMAND))
    assert locks == []


def test_the_ci_command_is_still_bootstrap_s_test():
    assert (REPOSITORY / ".ci" / "run").read_text().splitlines()[-1] == "python3 bootstrap.py test"
    assert bootstrap.lock_for(CI_COMMAND) == bootstrap.LOCK


@pytest.mark.parametrize(("own_pip", "this_pip", "installer"), [
    (True, (23, 2), "own"), (True, None, "own"),
    (False, (22, 3), "this"), (False, (26, 0), "this"),
    (False, (22, 2), None), (False, None, None),
])
def test_the_environment_s_own_pip_else_this_interpreter_s_else_ensurepip(own_pip, this_pip, installer):
    python = Path("/checkout/.venv/bin/python")
    expected = {"own": [str(python), "-m", "pip"], None: None,
                "this": [sys.executable, "-m", "pip", "--python", str(python)]}[installer]
    assert bootstrap.pip_for(python, own_pip, this_pip) == expected


def probe_wheel(directory: Path) -> Path:
    """A one-module wheel made here: a package a lock can pin, with no index."""
    from wheel.wheelfile import WheelFile

    path = directory / "bootstrap_probe-1.0-py3-none-any.whl"
    with WheelFile(path, "w") as wheel:  # writes the RECORD, with hashes
        wheel.writestr("bootstrap_probe.py", "ANSWER = 42\n")
        wheel.writestr("bootstrap_probe-1.0.dist-info/METADATA",
                       "Metadata-Version: 2.1\nName: bootstrap-probe\nVersion: 1.0\n")
        wheel.writestr("bootstrap_probe-1.0.dist-info/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    return path


@pytest.fixture
def probe_lock(tmp_path, monkeypatch):
    """The runtime lock, in tmp_path, pins the probe wheel; pip finds it only through the machine's
    pip configuration (PIP_FIND_LINKS, PIP_NO_INDEX: what a pip.conf would say); a new virtual
    environment, without pip, in LITTLE_SERVICE_VENV."""
    import hashlib

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    digest = hashlib.sha256(probe_wheel(wheels).read_bytes()).hexdigest()
    runtime = tmp_path / "requirements.txt"
    runtime.write_text(f"bootstrap-probe==1.0 \\\n    --hash=sha256:{digest}\n")
    monkeypatch.setattr(bootstrap, "RUNTIME_LOCK", runtime)
    monkeypatch.setattr(bootstrap, "STAMPS", {runtime: bootstrap.RUNTIME_STAMP,
                                              bootstrap.LOCK: bootstrap.STAMP})
    monkeypatch.setattr(bootstrap, "WHAT_IS_IN", {runtime: "the probe"})
    monkeypatch.setattr(bootstrap, "mysql_client_buildable", lambda: True)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("LITTLE_SERVICE_VENV", str(tmp_path / "venv"))
    return runtime


def test_a_new_environment_gets_no_pip_and_this_interpreter_s_pip_installs_into_it(probe_lock, capfd):
    target = bootstrap.ensure_environment(bootstrap.RUNTIME_LOCK)

    python = target / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import bootstrap_probe; print(bootstrap_probe.ANSWER)"],
                           capture_output=True, text=True, cwd=target)
    assert probe.stdout == "42\n", probe.stderr
    assert not (bootstrap.site_packages(target) / "pip").exists()
    assert bootstrap.stamp_current(target, bootstrap.RUNTIME_LOCK, skip_mysql=False)
    output = capfd.readouterr().out
    assert "Processing" in output and "bootstrap-probe" in output  # pip's own progress lines
    assert "requirements.txt installed in" in output


def test_a_file_that_does_not_match_its_hash_is_refused_and_leaves_no_stamp(probe_lock, capfd):
    probe_lock.write_text(probe_lock.read_text().replace("sha256:", "sha256:0"))
    with pytest.raises(SystemExit) as failed:
        bootstrap.ensure_environment(bootstrap.RUNTIME_LOCK)
    assert failed.value.code == 2
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in capfd.readouterr().err
    assert not (bootstrap.venv_dir() / bootstrap.RUNTIME_STAMP).exists()


def test_without_a_pip_that_installs_elsewhere_the_environment_gets_its_own(tmp_path, monkeypatch, capfd):
    import venv

    monkeypatch.setattr(bootstrap, "pip_version", lambda: (22, 2))  # a pip without --python
    target = tmp_path / "venv"
    venv.EnvBuilder().create(target)
    pip = bootstrap.environment_pip(target / "bin" / "python")
    assert pip == [str(target / "bin" / "python"), "-m", "pip"]
    assert (bootstrap.site_packages(target) / "pip").is_dir()
    assert "gets a pip of its own (ensurepip)" in capfd.readouterr().out
