"""audit: the locked dependencies against an advisory database (ops/audit.py), with pip-audit.

Loaded inside the image too, which carries neither pip-audit nor the development lock nor
ops/audit.py: the task says it runs from a checkout.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from ops.envvars import REPOSITORY, resolve
from ops.run import run
from ops.tasks import from_checkout, task


@task(help={
    "service": "the advisory service: osv (default; OSV's database, which holds PyPI's advisories "
               "and GitHub's) or pypi (PyPI's JSON API)",
    "osv_url": "OSV's query URL, for a mirror (default https://api.osv.dev/v1/query)",
    "accepted": "the accepted findings (default audit/accepted.toml)",
})
def audit(c, service="osv", osv_url=None, accepted=None):
    """Check the locked dependencies for known vulnerabilities (pip-audit)."""
    from_checkout("pip_audit", "audit")
    audits = from_checkout("ops.audit", "audit")
    advisories = audits.service(service, osv_url)
    accepted_file = Path(accepted).resolve() if accepted else audits.ACCEPTED
    acceptances = audits.load_accepted(accepted_file)
    with tempfile.TemporaryDirectory(prefix="little-service-audit-") as directory:
        output = Path(directory) / "pip-audit.json"
        result = run(c, audits.pip_audit(advisories, output), resolve("local"), warn=True,
                     cwd=str(REPOSITORY))
        found = audits.findings(output.read_text() if output.exists() else None, advisories=advisories,
                                exited=result.exited, stderr=result.stderr)
    verdict = audits.judge(found, acceptances, today=datetime.now(UTC).date())
    print(audits.report(verdict, advisories=advisories, accepted_file=accepted_file,
                        image_packages=audits.image_packages()), flush=True)
    audits.conclude(verdict, accepted_file=accepted_file)
