"""invoke audit: pip-audit's command, what its answers mean, the accepted findings, and the task.

pip_audit_outputs/ holds pip-audit 2.10.1's own answers, recorded on a machine where pypi.org
answers 404 and api.osv.dev does not resolve, with `pip-audit -r requirements.txt -r
requirements-dev.txt --disable-pip -f json --progress-spinner off` and:
  pypi-404.json, .stderr     the default service (PyPI): every package skipped, "No known
                             vulnerabilities found", exit code 0
  osv-one-advisory.json      -s osv --osv-url of a stand-in on 127.0.0.1 knowing one advisory
                             for django (exit code 1)
  osv-unresolvable.stderr    -s osv (api.osv.dev): a traceback, no report, exit code 1
  osv-refused.stderr         --osv-url of a closed port on 127.0.0.1
  osv-503.stderr, osv-read-timeout.stderr, osv-not-json.stderr
                             a stand-in answering 503, never answering (--timeout 2), answering
                             a page that is not JSON
  missing-lock.stderr        run where requirements.txt is not
The end-to-end tests run `invoke audit` against a stand-in for OSV on 127.0.0.1 (--osv-url),
and against a port where nothing listens.
"""

from __future__ import annotations

import json
import socket
import sys
from datetime import date
from pathlib import Path

import pytest
from invoke import Exit, MockContext, Result

from ops import audit
from ops.envvars import PYTHON, REPOSITORY
from ops.errors import UserError
from ops.locks import requirement_names
from ops.testing import StandInHandler, invoke, stand_in_server

OSV = audit.Service("osv")
PYPI = audit.Service("pypi")
TODAY = date(2025, 3, 1)
RECORDED = Path(__file__).parent / "pip_audit_outputs"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


# pip-audit's own messages on a connect timeout (pip_audit/_cli.py; not recorded: a connect
# timeout needs an address that drops packets, and these tests talk to 127.0.0.1 only).
CONNECT_TIMEOUT_STDERR = (
    "ERROR:pip_audit._cli:Could not connect to OSV's vulnerability feed\n"
    "ERROR:pip_audit._cli:Tip: your network may be blocking this service. "
    "Try another service with `-s SERVICE`\n")

# Reports for the verdict: a finding with a fix and aliases, one with neither.
OSV_ONE_FINDING = json.dumps({"dependencies": [
    {"name": "amqp", "version": "5.4.2", "vulns": []},
    {"name": "django", "version": "5.2.19", "vulns": [
        {"id": "PYSEC-2099-1", "fix_versions": ["5.2.99"],
         "aliases": ["GHSA-xxxx-yyyy-zzzz", "CVE-2099-0001"], "description": "SQL injection"}]},
    {"name": "pytest", "version": "9.1.0", "vulns": [
        {"id": "GHSA-aaaa-bbbb-cccc", "fix_versions": [], "aliases": [], "description": "N/A"}]},
], "fixes": []})
OSV_NOTHING_FOUND = json.dumps({"dependencies": [
    {"name": "amqp", "version": "5.4.2", "vulns": []},
    {"name": "django", "version": "5.2.19", "vulns": []},
], "fixes": []})


# --- the command ---------------------------------------------------------------------------------

def test_pip_audit_reads_both_locks_as_locked_and_writes_json(tmp_path):
    assert audit.pip_audit(OSV, tmp_path / "report.json") == [
        PYTHON, "-m", "pip_audit", "--requirement", "requirements.txt",
        "--requirement", "requirements-dev.txt", "--disable-pip", "--vulnerability-service", "osv",
        "--osv-url", "https://api.osv.dev/v1/query", "--format", "json",
        "--output", str(tmp_path / "report.json"), "--progress-spinner", "off", "--timeout", "15"]


def test_pypi_has_no_url_option_and_a_mirror_goes_with_osv(tmp_path):
    argv = audit.pip_audit(PYPI, tmp_path / "report.json")
    assert argv[argv.index("--vulnerability-service") + 1] == "pypi" and "--osv-url" not in argv
    assert audit.service("osv", "http://mirror.internal/v1/query").osv_url == "http://mirror.internal/v1/query"
    with pytest.raises(UserError, match="--osv-url goes with --service osv"):
        audit.service("pypi", "http://mirror.internal/v1/query")
    with pytest.raises(UserError, match="one of osv, pypi"):
        audit.service("snyk")


# --- what pip-audit's answers mean ---------------------------------------------------------------

def test_every_package_skipped_is_an_error_although_pip_audit_says_no_vulnerabilities():
    assert recorded("pypi-404.stderr") == "No known vulnerabilities found\n"  # and exit code 0
    with pytest.raises(UserError) as raised:
        audit.findings(recorded("pypi-404.json"), advisories=PYPI, exited=0,
                       stderr=recorded("pypi-404.stderr"))
    message = str(raised.value)
    assert message.startswith("pip-audit looked none of the 159 locked packages up at PyPI "
                              "(https://pypi.org/pypi/<package>/<version>/json)")
    assert "Dependency not found on PyPI and could not be audited: amqp (5.4.2)" in message
    assert "Nothing was checked" in message and "where the service is reachable" in message


def test_some_packages_skipped_is_an_error_naming_them():
    report = json.loads(OSV_NOTHING_FOUND)
    report["dependencies"].append({"name": "private-lib", "skip_reason": "could not be audited"})
    with pytest.raises(UserError, match=r"could not audit 1 of 3 locked packages .*private-lib"):
        audit.findings(json.dumps(report), advisories=OSV, exited=0, stderr="")


@pytest.mark.parametrize(("stderr", "cause"), [
    (recorded("osv-unresolvable.stderr"), "NameResolutionError: HTTPSConnection(host='api.osv.dev', "
                                          "port=443): Failed to resolve 'api.osv.dev'"),
    (recorded("osv-refused.stderr"), "NewConnectionError: HTTPConnection(host='127.0.0.1', port=1): "
                                     "Failed to establish a new connection: [Errno 111] Connection refused"),
    (recorded("osv-503.stderr"), "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable"),
    (recorded("osv-read-timeout.stderr"), "requests.exceptions.ReadTimeout: HTTPConnectionPool"),
    (recorded("osv-not-json.stderr"), "requests.exceptions.JSONDecodeError: Expecting value"),
    (CONNECT_TIMEOUT_STDERR, "Could not connect to OSV's vulnerability feed"),
])
def test_an_unreachable_or_failing_service_is_an_error_naming_it_and_what_to_do(stderr, cause):
    with pytest.raises(UserError) as raised:
        audit.findings(None, advisories=OSV, exited=1, stderr=stderr)
    message = str(raised.value)
    assert message.startswith("pip-audit could not use the advisory service OSV (https://api.osv.dev/v1/query)")
    assert cause in message
    assert "Nothing was checked" in message and "(CI runs it)" in message and "--osv-url" in message


def test_a_report_without_packages_checked_nothing():
    with pytest.raises(UserError, match="lists no package: the locks were not read"):
        audit.findings('{"dependencies": [], "fixes": []}', advisories=OSV, exited=0, stderr="")


def test_another_failure_without_a_report_says_what_pip_audit_said():
    with pytest.raises(UserError, match=r"pip-audit failed \(exit code 1\) without a report: "
                                        r"invalid requirements input: requirements.txt$"):
        audit.findings("", advisories=OSV, exited=1, stderr=recorded("missing-lock.stderr"))


def test_the_recorded_report_of_one_advisory_is_read_into_its_finding():
    found = audit.findings(recorded("osv-one-advisory.json"), advisories=OSV, exited=1, stderr="")
    assert found.audited == 159
    assert found.findings == (audit.Finding(
        "django", "5.2.19", "PYSEC-2099-1", ("CVE-2099-0001", "GHSA-xxxx-yyyy-zzzz"), ("5.2.99",),
        "SQL injection"),)


def test_a_report_of_packages_each_looked_up_is_read_into_findings():
    found = audit.findings(OSV_ONE_FINDING, advisories=OSV, exited=1, stderr="")
    assert found.audited == 3
    assert found.findings == (
        audit.Finding("django", "5.2.19", "PYSEC-2099-1", ("CVE-2099-0001", "GHSA-xxxx-yyyy-zzzz"),
                      ("5.2.99",), "SQL injection"),
        audit.Finding("pytest", "9.1.0", "GHSA-aaaa-bbbb-cccc", (), (), "N/A"),
    )
    assert audit.findings(OSV_NOTHING_FOUND, advisories=OSV, exited=0, stderr="") == audit.Audit(2, ())


# --- the accepted findings -----------------------------------------------------------------------

def accepted_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accepted.toml"
    path.write_text(text)
    return path


ACCEPT_DJANGO = """
[[accepted]]
id = "GHSA-xxxx-yyyy-zzzz"
package = "Django"
reason = "the affected lookup is not used"
by = "jane@example.com"
until = 2025-03-01
"""


def test_the_repository_s_accepted_findings_load():
    assert isinstance(audit.load_accepted(), list)  # audit/accepted.toml, as committed


def test_an_accepted_finding_has_every_field(tmp_path):
    [entry] = audit.load_accepted(accepted_file(tmp_path, ACCEPT_DJANGO))
    assert entry == audit.Acceptance("GHSA-xxxx-yyyy-zzzz", "Django", "the affected lookup is not used",
                                     "jane@example.com", date(2025, 3, 1))
    assert audit.load_accepted(tmp_path / "missing.toml") == []


@pytest.mark.parametrize(("text", "message"), [
    (ACCEPT_DJANGO.replace('reason = "the affected lookup is not used"\n', ""), "entry 1: reason missing"),
    (ACCEPT_DJANGO.replace('by = "jane@example.com"', 'by = " "'), "entry 1: by missing"),
    (ACCEPT_DJANGO.replace("until = 2025-03-01", 'until = "soon"'), "until = 'soon' is not a date"),
    (ACCEPT_DJANGO + 'ticket = "SEC-1"\n', "unknown field ticket"),
    ("[[accepted]]\nid = 1\n", "entry 1: package, reason, by, until missing"),
    ("[accepted]\nid = 1\n", r"each accepted finding is an \[\[accepted\]\] table"),
    ("accept = []\n", "unknown key accept"),
    ("[[accepted]\n", "not valid TOML"),
])
def test_an_incomplete_acceptance_is_refused_naming_the_entry(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        audit.load_accepted(accepted_file(tmp_path, text))


def test_a_date_as_text_is_a_date_too(tmp_path):
    [entry] = audit.load_accepted(accepted_file(tmp_path, ACCEPT_DJANGO.replace(
        "until = 2025-03-01", 'until = "2025-03-01"')))
    assert entry.until == date(2025, 3, 1)


# --- the verdict ---------------------------------------------------------------------------------

def one_finding():
    return audit.findings(OSV_ONE_FINDING, advisories=OSV, exited=1, stderr="")


def test_each_open_finding_is_reported_and_fails_the_audit():
    verdict = audit.judge(one_finding(), [], today=TODAY)
    assert [finding.id for finding in verdict.open] == ["PYSEC-2099-1", "GHSA-aaaa-bbbb-cccc"]
    text = audit.report(verdict, advisories=OSV, image_packages={"django"})
    assert "audited 3 locked packages against OSV (https://api.osv.dev/v1/query)" in text
    assert ("django 5.2.19: PYSEC-2099-1 (CVE-2099-0001, GHSA-xxxx-yyyy-zzzz), fixed in 5.2.99: "
            "SQL injection [image]") in text
    assert "pytest 9.1.0: GHSA-aaaa-bbbb-cccc, no fixed version yet: N/A [development]" in text
    with pytest.raises(UserError, match="2 known vulnerabilities in the locked dependencies .* "
                                        "audit/accepted.toml with its reason"):
        audit.conclude(verdict)


def test_an_accepted_finding_is_subtracted_by_any_of_its_ids_until_its_last_day(tmp_path):
    acceptances = audit.load_accepted(accepted_file(tmp_path, ACCEPT_DJANGO))
    verdict = audit.judge(one_finding(), acceptances, today=date(2025, 3, 1))
    assert [finding.id for finding in verdict.open] == ["GHSA-aaaa-bbbb-cccc"]
    [(finding, entry)] = verdict.accepted
    assert finding.package == "django" and entry.by == "jane@example.com"
    text = audit.report(verdict, advisories=OSV, accepted_file=tmp_path / "accepted.toml")
    assert ("django 5.2.19: PYSEC-2099-1, until 2025-03-01 (jane@example.com): the affected lookup "
            "is not used") in text


def test_an_expired_acceptance_counts_the_finding_again_and_says_so(tmp_path):
    acceptances = audit.load_accepted(accepted_file(tmp_path, ACCEPT_DJANGO))
    verdict = audit.judge(one_finding(), acceptances, today=date(2025, 3, 2))
    assert [finding.id for finding in verdict.open] == ["PYSEC-2099-1", "GHSA-aaaa-bbbb-cccc"]
    assert verdict.accepted == []
    assert "its acceptance by jane@example.com ended on 2025-03-01" in audit.report(verdict, advisories=OSV)
    with pytest.raises(UserError, match="^2 known vulnerabilities"):
        audit.conclude(verdict)


def test_an_acceptance_holds_for_its_package_only(tmp_path):
    acceptances = audit.load_accepted(accepted_file(tmp_path, ACCEPT_DJANGO.replace('"Django"', '"flask"')))
    verdict = audit.judge(one_finding(), acceptances, today=TODAY)
    assert len(verdict.open) == 2 and verdict.unused == acceptances


def test_everything_accepted_passes_and_a_stale_acceptance_is_named(tmp_path):
    text = ACCEPT_DJANGO.replace("GHSA-xxxx-yyyy-zzzz", "cve-2099-0001") + ACCEPT_DJANGO.replace(
        "Django", "pytest").replace("GHSA-xxxx-yyyy-zzzz", "GHSA-aaaa-bbbb-cccc") + ACCEPT_DJANGO.replace(
        "GHSA-xxxx-yyyy-zzzz", "GHSA-gone-gone-gone")
    verdict = audit.judge(one_finding(), audit.load_accepted(accepted_file(tmp_path, text)), today=TODAY)
    assert verdict.open == [] and len(verdict.accepted) == 2
    report = audit.report(verdict, advisories=OSV, accepted_file=tmp_path / "accepted.toml")
    assert "note: GHSA-gone-gone-gone (Django) is no longer found: remove it from" in report
    assert report.endswith("no known vulnerabilities but the accepted ones")
    audit.conclude(verdict)  # no error


def test_the_image_s_packages_come_from_its_lock():
    assert audit.image_packages() == requirement_names(REPOSITORY / "requirements.txt")
    assert "django" in audit.image_packages() and "pip-audit" not in audit.image_packages()


# --- the task ------------------------------------------------------------------------------------

def audit_context(report: str | None, *, exited: int, stderr: str = "") -> MockContext:
    """A context whose `pip-audit` writes `report` where the command says."""
    c = MockContext()

    def run(command, **kwargs):
        output = command.split(" --output ", 1)[1].split(" ", 1)[0]
        if report is not None:
            Path(output).write_text(report)
        return Result(command=command, exited=exited, stderr=stderr)

    c.run = run
    return c


def test_the_task_runs_pip_audit_from_the_repository_and_reports(capsys, tmp_path):
    from ops.tasks.audit import audit as audit_task

    calls = []
    c = audit_context(OSV_NOTHING_FOUND, exited=0)
    recorded = c.run
    c.run = lambda command, **kwargs: calls.append((command, kwargs)) or recorded(command, **kwargs)
    audit_task(c, accepted=str(tmp_path / "none.toml"))
    [(command, kwargs)] = calls
    assert command.startswith(f"cd {REPOSITORY} && {PYTHON} -m pip_audit --requirement requirements.txt")
    assert kwargs["warn"] is True and kwargs["echo"] is True
    assert "audited 2 locked packages against OSV" in capsys.readouterr().out


def test_the_task_fails_when_pip_audit_looked_nothing_up():
    from ops.tasks.audit import audit as audit_task

    with pytest.raises(Exit, match="error: pip-audit looked none of the 159 locked packages up at PyPI"):
        audit_task(audit_context(recorded("pypi-404.json"), exited=0, stderr=recorded("pypi-404.stderr")),
                   service="pypi")


def test_inside_the_image_the_task_says_where_it_runs(monkeypatch):
    from ops.tasks.audit import audit as audit_task

    monkeypatch.setitem(sys.modules, "pip_audit", None)  # the image carries no pip-audit
    with pytest.raises(Exit, match="invoke audit runs from a checkout of the repository .* not inside"):
        audit_task(MockContext())


def test_the_task_fails_on_a_finding(capsys):
    from ops.tasks.audit import audit as audit_task

    with pytest.raises(Exit, match="error: 2 known vulnerabilities"):
        audit_task(audit_context(OSV_ONE_FINDING, exited=1))
    assert "django 5.2.19: PYSEC-2099-1" in capsys.readouterr().out


# --- end to end: `invoke audit` with pip-audit against services on 127.0.0.1 ---------------------

class StandInOSV(StandInHandler):
    """OSV's query API (POST /v1/query, one package and version a query), knowing one advisory."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.queries.append(query)
        package, version = query["package"]["name"], query["version"]
        answer = {}
        if package == "django":
            answer = {"vulns": [{
                "id": "GHSA-test-0000-0001", "aliases": ["CVE-2099-0001"], "summary": "A stand-in advisory",
                "affected": [{"package": {"name": "django", "ecosystem": "PyPI"}, "versions": [version],
                              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
                                                                          {"fixed": "99.0"}]}]}]}]}
        self.reply(json.dumps(answer).encode(), headers={"Content-Type": "application/json"})


@pytest.fixture
def osv_url():
    with stand_in_server(StandInOSV) as server:
        server.queries = []
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", server.queries


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 where nothing listens (bound, never listening, while the test runs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_end_to_end_an_unreachable_service_fails_the_audit_with_the_reason(closed_port):
    url = f"http://127.0.0.1:{closed_port}/v1/query"
    result = invoke("audit", "--osv-url", url, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: pip-audit could not use the advisory service OSV ({url}): "
                           "NewConnectionError"), last
    assert "Connection refused" in last and "Nothing was checked" in last
    assert "No known vulnerabilities" not in result.stdout


def test_end_to_end_a_known_vulnerability_fails_the_audit_until_accepted(osv_url, tmp_path):
    url, queries = osv_url
    locked = requirement_names(REPOSITORY / "requirements.txt") | requirement_names(
        REPOSITORY / "requirements-dev.txt")
    result = invoke("audit", "--osv-url", url, "--accepted", str(tmp_path / "none.toml"), timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert {query["package"]["name"] for query in queries} == locked  # every locked package asked
    django = next(query["version"] for query in queries if query["package"]["name"] == "django")
    # pip-audit puts a PYSEC or CVE id first, the others become aliases.
    assert (f"django {django}: CVE-2099-0001 (GHSA-test-0000-0001), fixed in 99.0: A stand-in advisory "
            "[image]") in result.stdout
    assert f"audited {len(locked)} locked packages against OSV ({url})" in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("error: 1 known vulnerability in the locked")

    accepted = accepted_file(tmp_path, ACCEPT_DJANGO.replace(  # accepted by its alias
        "GHSA-xxxx-yyyy-zzzz", "GHSA-test-0000-0001").replace("until = 2025-03-01", "until = 2999-12-31"))
    result = invoke("audit", "--osv-url", url, "--accepted", str(accepted), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"django {django}: CVE-2099-0001 [image], until 2999-12-31 (jane@example.com)" in result.stdout

    accepted.write_text(ACCEPT_DJANGO.replace("GHSA-xxxx-yyyy-zzzz", "CVE-2099-0001"))  # ended 2025-03-01
    result = invoke("audit", "--osv-url", url, "--accepted", str(accepted), timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "its acceptance by jane@example.com ended on 2025-03-01" in result.stdout
