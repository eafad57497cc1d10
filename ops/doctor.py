"""Check what the chosen environment needs, and say how to fix each problem."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from application_service import database
from ops import backing_services, locks
from ops.envvars import Environment
from ops.errors import UserError

MINIMUM_PYTHON = (3, 11)


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_python() -> Finding:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= MINIMUM_PYTHON
    return Finding("python", ok, version, "" if ok else "install Python 3.11 or newer")


def check_lock(prefix: Path = Path(sys.prefix)) -> Finding:
    """The locks cover their .in files, and the virtual environment `prefix` holds exactly the lock."""
    unlocked = locks.unlocked_requirements()
    if unlocked:
        return Finding("lock", False, f"not locked: {', '.join(unlocked)}", "run: invoke lock")
    import bootstrap

    stamp = prefix / bootstrap.STAMP
    if not stamp.exists():
        return Finding("lock", False, f"{prefix} was not installed by bootstrap.py",
                       "run: python3 bootstrap.py doctor")
    installed = stamp.read_text()
    if installed not in {bootstrap.lock_digest(True), bootstrap.lock_digest(False)}:
        return Finding("lock", False, "the virtual environment is older than the lock",
                       "run: python3 bootstrap.py doctor (it installs the lock)")
    return Finding("lock", True, "the virtual environment matches requirements-dev.txt")


def check_driver(environment: Environment) -> Finding | None:
    config = backing_services.database_config(environment)
    if config["ENGINE"] != database.MYSQL_ENGINE:
        return None
    ok = importlib.util.find_spec("MySQLdb") is not None
    return Finding("mysql driver", ok, "mysqlclient" if ok else "mysqlclient is not installed",
                   "" if ok else "apt-get install -y libmariadb-dev pkg-config, then "
                                 "rm .venv/.lock-sha256 and run python3 bootstrap.py doctor")


def check_settings(environment: Environment) -> Finding | None:
    """The settings the environment refuses to start without, or unfit values: None when it has none."""
    try:
        environment.require()
    except UserError as exc:
        return Finding("settings", False, str(exc),
                       f"set them in the process environment or the git-ignored .env (secrets "
                       f"never go in env/{environment.name}.env)")
    return None


def check_services(environment: Environment) -> list[Finding]:
    try:
        required = backing_services.required_services(environment)
    except UserError as exc:
        return [Finding("services", False, str(exc),
                        f"set it in .env or the process environment (env/{environment.name}.env "
                        f"for values that are not secret)")]
    findings = []
    for service in required:
        error = backing_services.check(service)
        findings.append(Finding(service.name, error is None, error or f"up at {service.url}",
                                "" if error is None else backing_services.fix_for(service, error)))
        if service.name == "database" and error is None:
            problem = backing_services.missing_database(backing_services.database_config(environment))
            fix = "" if problem is None else (backing_services.CREATE_HINT if "does not exist" in problem
                                              else backing_services.fix_for(service, problem))
            findings[-1] = Finding("database", problem is None, problem or f"up at {service.url}", fix)
    if not required:
        findings.append(Finding("services", True, "none needed (SQLite, local-memory cache)"))
    return findings


def examine(environment: Environment) -> list[Finding]:
    findings = [check_python(), check_lock()]
    for finding in (check_settings(environment), check_driver(environment)):
        if finding:
            findings.append(finding)
    return findings + check_services(environment)


def report(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        mark = "ok  " if finding.ok else "FAIL"
        lines.append(f"{mark} {finding.name}: {finding.detail}")
        if not finding.ok:
            lines.append(f"     fix: {finding.fix}")
    return "\n".join(lines)
