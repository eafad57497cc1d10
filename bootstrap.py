#!/usr/bin/env python3
"""Install the locked dependencies the task needs into .venv when its lock changed, then run the task.

    python3 bootstrap.py dev      # serve the service on http://127.0.0.1:8000/ (the runtime lock)
    python3 bootstrap.py test     # run the whole test suite (the development lock)

Only the standard library is used here: this file runs before anything is installed.
Serving and developing need only the runtime lock (requirements.txt, what the image runs): the
tasks in RUNTIME_TASKS. Every other task gets the development lock (requirements-dev.txt: the
runtime lock plus the test, lint, browser, AWS-mock and build tools), installed by the first task
that needs it. The first argument that is not an option names the task, as invoke reads it; in a
chain of tasks (`bootstrap.py migrate test`) the first decides, so name a development task first.
The virtual environment lives in .venv (or $LITTLE_SERVICE_VENV); a stamp file per lock in it
records the lock's checksum, so a second run installs nothing while the lock is unchanged.
A task name that is not in RUNTIME_TASKS is checked on the runtime lock (the task file loads on
it) before the development lock is installed: a typo gets the nearest task names, not an install.
The environment's `invoke` and `inv` run ops.program (invoke with that answer); bootstrap.py
writes them on every run, so a reinstalled invoke does not take the answer away.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RUNTIME_LOCK = ROOT / "requirements.txt"
LOCK = ROOT / "requirements-dev.txt"
MINIMUM_PYTHON = (3, 11)
# mysqlclient compiles against the MySQL/MariaDB client library; these are the names its
# build looks up with pkg-config.
MYSQL_PKG_CONFIG_NAMES = ("mysqlclient", "mariadb", "libmariadb")
# The first pip that installs into another environment (`pip --python`).
PIP_WITH_PYTHON_OPTION = (22, 3)


# The tasks that need only the runtime lock: the image's roles and local development (invoke dev
# runs runserver, Celery and honcho, all in the runtime lock). Any other task, and any name not
# here, gets the development lock.
RUNTIME_TASKS = frozenset({
    "dev", "dev.start", "dev.web", "serve", "celery", "celery.worker", "celery.beat", "migrate",
    "manage", "shell", "wait-for", "healthcheck", "createsuperuser", "db.create",
})
# invoke's own options that show something and run no task (the task file loads on the runtime lock).
NO_TASK_OPTIONS = frozenset({"-l", "--list", "-h", "--help", "-V", "--version"})

# The stamp of each lock in the virtual environment. The development lock's keeps its old name:
# invoke doctor reads it. The development lock holds the runtime lock's every package, at the same
# versions and hashes (a test holds them so), so its current stamp covers both.
STAMP = ".lock-sha256"
RUNTIME_STAMP = ".runtime-lock-sha256"
STAMPS = {RUNTIME_LOCK: RUNTIME_STAMP, LOCK: STAMP}
WHAT_IS_IN = {
    RUNTIME_LOCK: "the runtime lock: Django, Celery, honcho, what the image runs",
    LOCK: "the development lock: the runtime lock and the test, lint, browser, AWS-mock and build tools",
}


def lock_digest(skip_mysql: bool, lock: Path = LOCK) -> str:
    """What a lock's stamp in the virtual environment records: the lock, the Python, the driver choice."""
    return hashlib.sha256(
        lock.read_bytes() + sys.version.encode() + (b"no-mysql" if skip_mysql else b"")
    ).hexdigest()


def task_name(argv: list[str]) -> str | None:
    """The task invoke runs first: the first argument that is not an option; None when there is
    none, or when invoke only lists, helps or tells its version."""
    if not argv or argv[0] in NO_TASK_OPTIONS:
        return None
    return next((word for word in argv if not word.startswith("-")), None)


def lock_for(argv: list[str]) -> Path:
    """The lock the task needs: the runtime lock for RUNTIME_TASKS and for no task, else the
    development lock."""
    name = task_name(argv)
    return RUNTIME_LOCK if name is None or name in RUNTIME_TASKS else LOCK


def stamp_current(target: Path, lock: Path, skip_mysql: bool) -> bool:
    stamp = target / STAMPS[lock]
    return stamp.exists() and stamp.read_text() == lock_digest(skip_mysql, lock)


def locks_to_install(target: Path, lock: Path, skip_mysql: bool) -> list[Path]:
    """The locks to install, in order, into the virtual environment `target` for a task that needs
    `lock`: none while it, or the development lock (which holds the runtime lock), is current; the
    runtime lock before the development lock, so that the task's name is checked on the first."""
    if stamp_current(target, LOCK, skip_mysql) or stamp_current(target, lock, skip_mysql):
        return []
    if lock == LOCK and not stamp_current(target, RUNTIME_LOCK, skip_mysql):
        return [RUNTIME_LOCK, LOCK]
    return [lock]


def locked_packages(lock_text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Each package a hashed lock pins, by its name as pip compares names: its version and its hashes."""
    packages: dict[str, tuple[str, frozenset[str]]] = {}
    name = None
    for line in lock_text.splitlines():
        words = line.strip().rstrip("\\").split()
        if line and not line[0].isspace() and not line.startswith(("#", "-")):
            requirement = words[0]
            name, _, version = requirement.partition("==")
            name = re.sub(r"[-_.]+", "-", name).lower()
            packages[name] = (version, frozenset())
            words = words[1:]
        for word in words:
            if word.startswith("--hash=") and name:
                version, hashes = packages[name]
                packages[name] = (version, hashes | {word.removeprefix("--hash=")})
    return packages


def venv_dir() -> Path:
    # Absolute but not resolved: the environment's python may be a link to the base interpreter.
    return Path(os.path.abspath(os.environ.get("LITTLE_SERVICE_VENV", ROOT / ".venv")))


def site_packages(target: Path) -> Path:
    paths = {"base": str(target), "platbase": str(target)}
    return Path(sysconfig.get_path("purelib", scheme="venv", vars=paths))


def pip_version() -> tuple[int, ...] | None:
    """The version (major, minor) of the pip this interpreter runs as `-m pip`; None without one."""
    try:
        version = metadata.version("pip")
    except metadata.PackageNotFoundError:
        return None
    return tuple(int(number) for number in re.findall(r"\d+", version)[:2])


def pip_for(python: Path, own_pip: bool, this_pip: tuple[int, ...] | None) -> list[str] | None:
    """The pip that installs into the virtual environment of `python`: its own when it has one (the
    development lock locks pip); else this interpreter's, which installs into another environment
    with --python (pip 22.3+), so that the environment needs no pip of its own (ensurepip took
    6-14 s of a first run); None when neither is there (ensurepip then gives it one)."""
    if own_pip:
        return [str(python), "-m", "pip"]
    if this_pip and this_pip >= PIP_WITH_PYTHON_OPTION:
        return [sys.executable, "-m", "pip", "--python", str(python)]
    return None


def environment_pip(python: Path) -> list[str]:
    """pip_for the environment of `python` on this machine, after ensurepip where it needs it."""
    target = python.parent.parent
    pip = pip_for(python, (site_packages(target) / "pip").is_dir(), pip_version())
    if pip:
        return pip
    print(f"bootstrap: this Python has no pip 22.3+ to install into {target}, so it gets a pip of "
          "its own (ensurepip) ...", flush=True)
    if subprocess.run([str(python), "-m", "ensurepip", "--default-pip"], check=False).returncode != 0:
        fail("this Python has neither pip nor ensurepip; install pip for it (Debian and Ubuntu: "
             "apt-get install python3-pip python3-venv) and run the same command again.")
    return [str(python), "-m", "pip"]


def fail(message: str) -> None:
    print(f"bootstrap: {message}", file=sys.stderr)
    raise SystemExit(2)


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def mysql_client_buildable() -> bool:
    if os.environ.get("MYSQLCLIENT_CFLAGS") and os.environ.get("MYSQLCLIENT_LDFLAGS"):
        return True
    if not shutil.which("pkg-config"):
        return False
    return any(
        subprocess.run(["pkg-config", "--exists", name], check=False).returncode == 0
        for name in MYSQL_PKG_CONFIG_NAMES
    )


def lock_without(lock_text: str, package: str) -> str:
    """Return the lock with one package's requirement block (name line and hash lines) removed."""
    kept, skipping = [], False
    for line in lock_text.splitlines():
        starts_block = line and not line[0].isspace() and not line.startswith("#")
        if starts_block:
            skipping = line.lower().startswith(f"{package}==")
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def install(python: Path, lock: Path, skip_mysql: bool) -> None:
    """Install `lock` with pip, every file checked against its hashes, then write its stamp."""
    lock_text = lock.read_text()
    if skip_mysql:
        print(
            "bootstrap: no MySQL client library found (pkg-config mysqlclient/mariadb), so the "
            "MySQL driver is left out; the local default (SQLite) needs none. To use MySQL, "
            "install libmariadb-dev and pkg-config, then run this again.",
            file=sys.stderr,
        )
        lock_text = lock_without(lock_text, "mysqlclient")
    target = python.parent.parent
    pip = environment_pip(python)
    print(f"bootstrap: installing {lock.name} ({len(locked_packages(lock_text))} packages, "
          f"{WHAT_IS_IN[lock]}) into {target}; pip reports each package ...", flush=True)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(lock_text)
    try:
        if subprocess.run(pip_install_command(pip, handle.name), check=False).returncode != 0:
            fail("installing the locked dependencies failed (pip's message is above); "
                 "fix the cause and run the same command again.")
    finally:
        os.unlink(handle.name)
    (target / STAMPS[lock]).write_text(lock_digest(skip_mysql, lock))
    write_console_scripts(target)  # pip has just written its own, when it installed invoke
    print(f"bootstrap: {lock.name} installed in {time.monotonic() - started:.1f} s", flush=True)


def pip_install_command(pip: list[str], requirements: str) -> list[str]:
    """pip, not a faster installer: pip alone reads the machine's pip configuration (pip.conf, PIP_*:
    index, mirrors, CA bundle, constraints). No --quiet: pip's lines are the progress. --no-compile:
    compiling every installed module took most of a warm install (35 s of the runtime lock, 14 s
    without); Python compiles the modules a task imports, once, as it first imports them. Unless
    it writes no bytecode (PYTHONDONTWRITEBYTECODE): then every run would compile them again."""
    no_compile = [] if sys.flags.dont_write_bytecode else ["--no-compile"]
    return [*pip, "install", "--disable-pip-version-check", "--require-hashes", "--no-deps", *no_compile,
            "-r", requirements]


# Asks ops.program whether invoke would refuse the command line; it runs no task.
TASK_CHECK = "import sys; from ops.program import exit_if_refused; exit_if_refused(sys.argv[1:])"


def check_task_names(python: Path, argv: list[str]) -> None:
    """Stop with invoke's answer (a mistyped task's nearest names, an option no task takes) when it
    would refuse `argv`: before the development lock is installed for a task that does not exist."""
    code = subprocess.run([str(python), "-c", TASK_CHECK, *argv], cwd=ROOT, check=False).returncode
    if code != 0:
        raise SystemExit(code)


def script_header(python: Path) -> str:
    """A shebang naming `python`; for a path a shebang cannot hold (a space, over 127 bytes), sh
    starting it, as pip's own scripts do."""
    path = str(python)
    if " " not in path and len(f"#!{path}") <= 127:
        return f"#!{path}\n"
    return f"#!/bin/sh\n'''exec' \"{path}\" \"$0\" \"$@\"\n' '''\n"


def console_script(python: Path) -> str:
    """The environment's `invoke` and `inv`: invoke's command line, as ops.program answers it."""
    return (f"{script_header(python)}"
            "# Written by bootstrap.py on each run, in place of pip's (which runs invoke.main): invoke,\n"
            "# answering a mistyped task name with the nearest ones (ops.program).\n"
            "import sys\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from ops.program import program\n"
            "sys.exit(program.run())\n")


def write_console_scripts(target: Path) -> None:
    text = console_script(target / "bin" / "python")
    for name in ("invoke", "inv"):
        script = target / "bin" / name
        if not script.is_file() or script.read_text() != text:
            script.write_text(text)
            script.chmod(0o755)


def ensure_environment(lock: Path = LOCK, argv: list[str] | None = None) -> Path:
    """The virtual environment, with `lock` (or the development lock, which holds it) installed and
    bootstrap's `invoke` scripts written (again: pip may have reinstalled invoke since); with `argv`,
    the command line is checked on the runtime lock before the development lock is installed."""
    if sys.version_info < MINIMUM_PYTHON:
        fail(f"Python {'.'.join(map(str, MINIMUM_PYTHON))}+ is needed, this is "
             f"{sys.version.split()[0]}; run this file with a newer python3.")
    target = venv_dir()
    python = target / "bin" / "python"
    if not python.exists():
        print(f"bootstrap: creating a virtual environment in {target} ...", flush=True)
        # Without a pip of its own: this interpreter's installs into it (pip_for).
        venv.EnvBuilder(clear=True).create(target)
    skip_mysql = not mysql_client_buildable()
    if skip_mysql and truthy(os.environ.get("CI")):
        fail("CI needs the MySQL driver, but no MySQL client library was found; install "
             "libmariadb-dev and pkg-config (apt-get install -y libmariadb-dev pkg-config).")
    for needed in locks_to_install(target, lock, skip_mysql):
        if needed == LOCK and argv is not None:
            check_task_names(python, argv)
        install(python, needed, skip_mysql)
    write_console_scripts(target)
    return target


def main(argv: list[str]) -> None:
    target = ensure_environment(lock_for(argv), argv)
    if not argv:
        argv = ["--list"]
    invoke = target / "bin" / "invoke"
    os.environ["VIRTUAL_ENV"] = str(target)
    os.environ["PATH"] = f"{target / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    os.chdir(ROOT)
    os.execv(str(invoke), [str(invoke), *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
