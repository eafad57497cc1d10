"""A newcomer's first page: how long `python3 bootstrap.py dev` takes, from a fresh clone, to answer
200 at / (invoke bench.first-page).

Three runs, each timed from the launch of bootstrap.py to the first 200 (the clone is not counted):

    cold    a new clone with a new, empty pip cache (PIP_CACHE_DIR): every file fetched and built
    warm    another new clone (so a new virtual environment) with the cache the cold run filled
    second  the warm clone again: its environment is already installed

then the size of the warm clone's virtual environment (du). Each run also reports how much of its
time went to installing (what bootstrap.py says: "<lock> installed in N s"); the rest is creating the
environment and `invoke dev` starting (migrate, the web server, the worker and beat). Only 127.0.0.1
is asked for the page; pip uses the machine's own configuration, as a newcomer's would.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ops.envvars import REPORTS_DIR, REPOSITORY
from ops.processes import free_port, stop

REPORT = REPORTS_DIR / "first_page.json"
# bootstrap.py's line at the end of each install.
INSTALLED = re.compile(r"^bootstrap: \S+ installed in (?P<seconds>[\d.]+) s$", re.MULTILINE)
# What the caller's shell may carry that a newcomer's does not: another virtual environment, this
# checkout's settings, services.
NEWCOMER_UNSET = ("VIRTUAL_ENV", "LITTLE_SERVICE_VENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE",
                  "APP_ENV", "DATABASE_URL", "REDIS_URL", "CI")


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    install_seconds: float


def base_python() -> str:
    """The Python outside any virtual environment (the one a newcomer's python3 is)."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base) if base.exists() else sys.executable


def install_seconds(log: str) -> float:
    """The seconds bootstrap.py said its installs took, in its output `log`."""
    return round(sum(float(found["seconds"]) for found in INSTALLED.finditer(log)), 1)


def newcomer_environment(environ: dict[str, str], pip_cache: Path) -> dict[str, str]:
    """`environ` without another virtual environment or this checkout's settings, with its own pip cache."""
    environment = {name: value for name, value in environ.items() if name not in NEWCOMER_UNSET}
    active = environ.get("VIRTUAL_ENV")
    if active:
        environment["PATH"] = os.pathsep.join(entry for entry in environ.get("PATH", "").split(os.pathsep)
                                              if Path(entry) != Path(active) / "bin")
    environment["PIP_CACHE_DIR"] = str(pip_cache)
    return environment


def clone(source: Path, ref: str, target: Path) -> None:
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(source), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", ref], check=True)


def page_status(port: int, path: str = "/") -> int | None:
    """The status of GET `path` on 127.0.0.1:`port`; None while nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def seconds_to_first_page(python: str, checkout: Path, environment: dict[str, str], log: Path,
                          timeout: float) -> float:
    """Launch `python3 bootstrap.py dev` in `checkout`; the seconds until / answers 200. Stops it after."""
    port = free_port()
    with log.open("w") as output:
        started = time.monotonic()
        process = subprocess.Popen([python, "bootstrap.py", "dev", "--address", f"127.0.0.1:{port}"],
                                   cwd=checkout, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while page_status(port) != 200:
                if process.poll() is not None:
                    raise RuntimeError(f"bootstrap.py dev ended (exit {process.returncode}) before / "
                                       f"answered 200; its output:\n{log.read_text()[-3000:]}")
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"/ did not answer 200 within {timeout:.0f} s; see {log}")
                time.sleep(0.1)
            return time.monotonic() - started
        finally:
            stop(process)


def size_in_bytes(path: Path) -> int:
    """What du counts: the blocks the files take on disk."""
    output = subprocess.run(["du", "-sk", str(path)], check=True, capture_output=True, text=True).stdout
    return int(output.split()[0]) * 1024


def measure(source: Path = REPOSITORY, ref: str = "HEAD", python: str | None = None,
            timeout: float = 900, workspace: Path | None = None) -> dict:
    """The three runs and the environment's size, from clones of `source` at `ref` made in a
    temporary directory (under `workspace` when given)."""
    python = python or base_python()
    with tempfile.TemporaryDirectory(prefix="first-page-", dir=workspace) as scratch:
        scratch = Path(scratch)
        environment = newcomer_environment(dict(os.environ), scratch / "pip-cache")
        runs = []
        for name, checkout in (("cold", "cold"), ("warm", "warm"), ("second", "warm")):
            if not (scratch / checkout).exists():
                clone(source, ref, scratch / checkout)
            print(f"first page: {name} run ...", flush=True)
            log = scratch / f"{name}.log"
            seconds = seconds_to_first_page(python, scratch / checkout, environment, log, timeout)
            runs.append(Run(name, round(seconds, 1), install_seconds(log.read_text())))
            print(f"first page: {name} run: {seconds:.1f} s", flush=True)
        venv = scratch / "warm" / ".venv"
        return {"source": str(source), "ref": ref, "python": python,
                "runs": [asdict(run) for run in runs],
                "venv_bytes": size_in_bytes(venv) if venv.exists() else 0}


def table(report: dict) -> str:
    lines = [f"{run['name']:<8}{run['seconds']:>8.1f} s   (installing {run['install_seconds']:.1f} s)"
             for run in report["runs"]]
    lines.append(f"{'venv':<8}{report['venv_bytes'] / 2**20:>8.0f} MB")
    return "\n".join(lines)


def write(report: dict, path: Path = REPORT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
