"""The locked dependencies against an advisory database: pip-audit's command, and what its answer means.

pip-audit (the development lock installs it) reads both hashed locks without installing anything
and writes JSON. Its own verdict is not enough: with PyPI's service unreachable or answering 404
it skips every package and still says "No known vulnerabilities found" (exit 0); with OSV's
unreachable it ends in a traceback. `findings` turns either into a UserError that says nothing
was checked; `judge` subtracts the accepted findings (audit/accepted.toml) that have not expired.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from packaging.utils import canonicalize_name

from ops.envvars import PYTHON, REPOSITORY, relative
from ops.errors import UserError
from ops.locks import LOCKS, requirement_names

OSV_URL = "https://api.osv.dev/v1/query"
SERVICES = ("osv", "pypi")
ACCEPTED = REPOSITORY / "audit" / "accepted.toml"
ACCEPTANCE_FIELDS = ("id", "package", "reason", "by", "until")
# What pip-audit's traceback or log says when the advisory service could not be used: not reached
# (DNS, refused, timeout, proxy, TLS), or an answer that is not the service's (an error status,
# a page that is not JSON).
SERVICE_FAILURE = re.compile(r"^requests\.exceptions\.|Could not connect to|pip_audit\._service\.", re.M)
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Timeout)\b.*$", re.M)
LOG_PREFIX = re.compile(r"^[A-Z]+:[\w.]+:")
CAUSED_BY = re.compile(r"\(Caused by (?P<error>\w+)\((?P<quote>['\"])(?P<message>.*)(?P=quote)\)\)$")


@dataclass(frozen=True)
class Service:
    """The advisory service pip-audit asks: OSV (its URL may be a mirror) or PyPI's JSON API."""

    name: str
    osv_url: str = OSV_URL

    @property
    def url(self) -> str:
        return self.osv_url if self.name == "osv" else "https://pypi.org/pypi/<package>/<version>/json"

    def __str__(self) -> str:
        return f"{'OSV' if self.name == 'osv' else 'PyPI'} ({self.url})"


def service(name: str, osv_url: str | None = None) -> Service:
    if name not in SERVICES:
        raise UserError(f"--service {name}: the advisory service is one of {', '.join(SERVICES)}.")
    if osv_url and name != "osv":
        raise UserError("--osv-url goes with --service osv.")
    return Service(name, osv_url or OSV_URL)


def pip_audit(advisories: Service, output: Path, *, timeout: int = 15,
              locks: Sequence[str] = tuple(lock for _, lock in LOCKS)) -> list[str]:
    """pip-audit over the hashed locks (run from the repository: the names are relative), the
    packages as locked (--disable-pip: nothing resolved, downloaded or installed), its JSON in
    `output`. No --ignore-vuln: accepted findings are subtracted afterwards, so that the report
    still shows them with their reason and end date."""
    argv = [PYTHON, "-m", "pip_audit"]
    for lock in locks:
        argv += ["--requirement", lock]
    argv += ["--disable-pip", "--vulnerability-service", advisories.name]
    if advisories.name == "osv":
        argv += ["--osv-url", advisories.osv_url]
    return argv + ["--format", "json", "--output", str(output), "--progress-spinner", "off",
                   "--timeout", str(timeout)]


# --- what pip-audit found -----------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""

    @property
    def ids(self) -> set[str]:
        return {name.upper() for name in (self.id, *self.aliases)}

    def line(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fixed = f"fixed in {', '.join(self.fix_versions)}" if self.fix_versions else "no fixed version yet"
        text = f"{self.package} {self.version}: {self.id}{aliases}, {fixed}"
        if self.description:
            summary = self.description if len(self.description) <= 100 else self.description[:99] + "…"
            text += f": {summary}"
        return text


@dataclass(frozen=True)
class Audit:
    """pip-audit's answer: how many packages it looked up, and what it found in them."""

    audited: int
    findings: tuple[Finding, ...]


def failure_cause(stderr: str) -> str:
    """The line of pip-audit's traceback or log that says what went wrong: requests' exception
    (it names the host and the cause), else the last exception line, else the last line."""
    # pip-audit's own log lines read "ERROR:pip_audit._cli:<message>".
    lines = [LOG_PREFIX.sub("", line) for line in stderr.splitlines() if line.strip()]
    connection = [line for line in lines if line.startswith("requests.exceptions.")
                  or line.startswith("Could not connect to")]
    cause = (connection or EXCEPTION_LINE.findall(stderr) or lines or ["no output"])[-1].strip()
    underlying = CAUSED_BY.search(cause)  # urllib3's reason, inside requests' retry message
    if underlying:
        cause = f"{underlying['error']}: {underlying['message']}"
    return cause if len(cause) <= 300 else cause[:299] + "…"


def findings(report: str | None, *, advisories: Service, exited: int, stderr: str) -> Audit:
    """pip-audit's JSON report read, or UserError when it checked nothing (or not everything).

    `report`: the JSON it wrote (None or empty when it wrote none); `exited` and `stderr`: its
    exit code and error output, which say why when there is no report.
    """
    try:
        document = json.loads(report) if report else None
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("dependencies"), list):
        if SERVICE_FAILURE.search(stderr):
            raise UserError(
                f"pip-audit could not use the advisory service {advisories}: {failure_cause(stderr)}. "
                "Nothing was checked. Run `invoke audit` where the service is reachable (CI runs it), "
                "through a proxy that reaches it (HTTPS_PROXY), or against a mirror of OSV (--osv-url).")
        raise UserError(f"pip-audit failed (exit code {exited}) without a report: {failure_cause(stderr)}")
    dependencies = document["dependencies"]
    skipped = [dependency for dependency in dependencies if "skip_reason" in dependency]
    if dependencies and len(skipped) == len(dependencies):
        raise UserError(
            f"pip-audit looked none of the {len(dependencies)} locked packages up at {advisories}, "
            f"and says \"No known vulnerabilities found\" all the same (its first reason: "
            f"{skipped[0]['skip_reason']}). Nothing was checked. Run `invoke audit` where the service "
            "is reachable (CI runs it), or through a proxy that reaches it (HTTPS_PROXY).")
    if not dependencies:
        raise UserError("pip-audit's report lists no package: the locks were not read. Nothing was checked.")
    if skipped:
        names = ", ".join(f"{dependency['name']} ({dependency['skip_reason']})" for dependency in skipped)
        raise UserError(f"pip-audit could not audit {len(skipped)} of {len(dependencies)} locked "
                        f"packages at {advisories}: {names}. Run it again where the service answers.")
    return Audit(audited=len(dependencies), findings=tuple(
        Finding(package=dependency["name"], version=dependency["version"], id=vulnerability["id"],
                aliases=tuple(sorted(vulnerability.get("aliases", ()))),  # a set, in pip-audit
                fix_versions=tuple(vulnerability.get("fix_versions", ())),
                description=" ".join((vulnerability.get("description") or "").split()))
        for dependency in dependencies for vulnerability in dependency.get("vulns", ())))


# --- the accepted findings ----------------------------------------------------------------------

@dataclass(frozen=True)
class Acceptance:
    """A finding accepted for a while: which, why, who decided, and the last day it holds."""

    id: str
    package: str
    reason: str
    by: str
    until: date

    def covers(self, finding: Finding) -> bool:
        return (canonicalize_name(self.package) == canonicalize_name(finding.package)
                and self.id.upper() in finding.ids)

    def expired(self, today: date) -> bool:
        return today > self.until


def load_accepted(path: Path = ACCEPTED) -> list[Acceptance]:
    """The [[accepted]] entries of the accepted-findings file (none when it does not exist);
    UserError naming the entry for a missing, empty or unknown field or a date that is not one."""
    if not path.exists():
        return []
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc}).") from None
    unknown = set(document) - {"accepted"}
    if unknown:
        raise UserError(f"{path}: unknown key {', '.join(sorted(unknown))}; entries are [[accepted]] tables.")
    entries = document.get("accepted", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise UserError(f"{path}: each accepted finding is an [[accepted]] table (two brackets).")
    return [acceptance(entry, f"{path}, entry {number}") for number, entry in enumerate(entries, start=1)]


def acceptance(entry: dict, where: str) -> Acceptance:
    missing = [name for name in ACCEPTANCE_FIELDS if not str(entry.get(name, "")).strip()]
    if missing:
        raise UserError(f"{where}: {', '.join(missing)} missing; each accepted finding names the "
                        f"advisory id, the package, the reason, who accepted it (by) and until when.")
    unknown = set(entry) - set(ACCEPTANCE_FIELDS)
    if unknown:
        raise UserError(f"{where}: unknown field {', '.join(sorted(unknown))} "
                        f"(the fields: {', '.join(ACCEPTANCE_FIELDS)}).")
    until = entry["until"]
    if isinstance(until, str):
        try:
            until = date.fromisoformat(until)
        except ValueError:
            until = None
    if not isinstance(until, date):
        raise UserError(f"{where}: until = {entry['until']!r} is not a date (until = 2025-06-30).")
    return Acceptance(id=str(entry["id"]).strip(), package=str(entry["package"]).strip(),
                      reason=" ".join(str(entry["reason"]).split()), by=str(entry["by"]).strip(),
                      until=until)


# --- the verdict --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    audited: int
    open: list[Finding] = field(default_factory=list)  # to fix: not accepted, or no longer
    accepted: list[tuple[Finding, Acceptance]] = field(default_factory=list)
    expired: list[tuple[Finding, Acceptance]] = field(default_factory=list)  # also in open
    unused: list[Acceptance] = field(default_factory=list)  # match nothing found: to remove


def judge(audit: Audit, acceptances: Iterable[Acceptance], *, today: date) -> Verdict:
    """The findings left once the accepted ones are subtracted; an acceptance past its `until`
    subtracts nothing."""
    acceptances = list(acceptances)
    verdict = Verdict(audited=audit.audited)
    used: set[Acceptance] = set()
    for finding in audit.findings:
        matching = [entry for entry in acceptances if entry.covers(finding)]
        used.update(matching)
        current = [entry for entry in matching if not entry.expired(today)]
        if current:
            verdict.accepted.append((finding, max(current, key=lambda entry: entry.until)))
            continue
        verdict.open.append(finding)
        if matching:
            verdict.expired.append((finding, max(matching, key=lambda entry: entry.until)))
    verdict.unused.extend(entry for entry in acceptances if entry not in used)
    return verdict


def image_packages() -> set[str]:
    """The packages of the image's lock (requirements.txt), as pip-audit names them."""
    return requirement_names(REPOSITORY / LOCKS[0][1])


def report(verdict: Verdict, *, advisories: Service, accepted_file: Path = ACCEPTED,
           image_packages: set[str] = frozenset()) -> str:
    """What the audit found, for the terminal: each open finding (package, version, id, fixes),
    then the accepted ones with their reason and end date."""
    lines = [f"audited {verdict.audited} locked packages against {advisories}"]

    def where(finding: Finding) -> str:
        if not image_packages:
            return ""
        return " [image]" if canonicalize_name(finding.package) in image_packages else " [development]"

    expired = dict(verdict.expired)
    if verdict.open:
        lines.append(f"known vulnerabilities ({len(verdict.open)}):")
        for finding in verdict.open:
            lines.append(f"  {finding.line()}{where(finding)}")
            if finding in expired:
                entry = expired[finding]
                lines.append(f"    its acceptance by {entry.by} ended on {entry.until.isoformat()}")
    if verdict.accepted:
        lines.append(f"accepted ({len(verdict.accepted)}, {relative(accepted_file)}):")
        for finding, entry in verdict.accepted:
            lines.append(f"  {finding.package} {finding.version}: {finding.id}{where(finding)}, until "
                         f"{entry.until.isoformat()} ({entry.by}): {entry.reason}")
    for entry in verdict.unused:
        lines.append(f"note: {entry.id} ({entry.package}) is no longer found: remove it from "
                     f"{relative(accepted_file)}")
    if not verdict.open:
        lines.append("no known vulnerabilities" + (" but the accepted ones" if verdict.accepted else ""))
    return "\n".join(lines)


def conclude(verdict: Verdict, *, accepted_file: Path = ACCEPTED) -> None:
    """UserError while a finding is open (the report above lists each)."""
    if verdict.open:
        count = len(verdict.open)
        raise UserError(
            f"{count} known {'vulnerability' if count == 1 else 'vulnerabilities'} in the locked "
            "dependencies (listed above): upgrade the package (requirements*.in, then `invoke lock`), "
            f"or accept the finding in {relative(accepted_file)} with its reason, who and until when.")
