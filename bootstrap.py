#!/usr/bin/env python3
"""Install the locked dependencies into .venv when the lock changed, then run an invoke task.

    python3 bootstrap.py dev      # serve the service on http://127.0.0.1:8000/
    python3 bootstrap.py test     # run the whole test suite

Only the standard library is used here: this file runs before anything is installed.
The virtual environment lives in .venv (or $LITTLE_SERVICE_VENV); a stamp file in it records
the lock's checksum, so a second run installs nothing while requirements-dev.txt is unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements-dev.txt"
MINIMUM_PYTHON = (3, 11)
# mysqlclient compiles against the MySQL/MariaDB client library; these are the names its
# build looks up with pkg-config.
MYSQL_PKG_CONFIG_NAMES = ("mysqlclient", "mariadb", "libmariadb")


STAMP = ".lock-sha256"


def lock_digest(skip_mysql: bool) -> str:
    """What the stamp in the virtual environment records: the lock, the Python, the driver choice."""
    return hashlib.sha256(
        LOCK.read_bytes() + sys.version.encode() + (b"no-mysql" if skip_mysql else b"")
    ).hexdigest()


def venv_dir() -> Path:
    return Path(os.environ.get("LITTLE_SERVICE_VENV", ROOT / ".venv"))


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


def install(python: Path, stamp: Path, digest: str, skip_mysql: bool) -> None:
    lock_text = LOCK.read_text()
    if skip_mysql:
        print(
            "bootstrap: no MySQL client library found (pkg-config mysqlclient/mariadb), so the "
            "MySQL driver is left out; the local default (SQLite) needs none. To use MySQL, "
            "install libmariadb-dev and pkg-config, then run this again.",
            file=sys.stderr,
        )
        lock_text = lock_without(lock_text, "mysqlclient")
    print(f"bootstrap: installing {LOCK.name} into {python.parent.parent} ...", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(lock_text)
    try:
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--require-hashes", "--no-deps", "-r", handle.name]
        if subprocess.run(command, check=False).returncode != 0:
            fail("installing the locked dependencies failed (pip's message is above); "
                 "fix the cause and run the same command again.")
    finally:
        os.unlink(handle.name)
    stamp.write_text(digest)


def ensure_environment() -> Path:
    if sys.version_info < MINIMUM_PYTHON:
        fail(f"Python {'.'.join(map(str, MINIMUM_PYTHON))}+ is needed, this is "
             f"{sys.version.split()[0]}; run this file with a newer python3.")
    target = venv_dir()
    python = target / "bin" / "python"
    if not python.exists():
        print(f"bootstrap: creating a virtual environment in {target} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
    skip_mysql = not mysql_client_buildable()
    if skip_mysql and truthy(os.environ.get("CI")):
        fail("CI needs the MySQL driver, but no MySQL client library was found; install "
             "libmariadb-dev and pkg-config (apt-get install -y libmariadb-dev pkg-config).")
    digest = lock_digest(skip_mysql)
    stamp = target / STAMP
    if not stamp.exists() or stamp.read_text() != digest:
        install(python, stamp, digest, skip_mysql)
    return target


def main(argv: list[str]) -> None:
    target = ensure_environment()
    if not argv:
        argv = ["--list"]
    invoke = target / "bin" / "invoke"
    os.environ["VIRTUAL_ENV"] = str(target)
    os.environ["PATH"] = f"{target / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    os.chdir(ROOT)
    os.execv(str(invoke), [str(invoke), *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
