"""The gate before migrating a database that a running version still uses.

A deploy migrates while the previous version still serves (and, if the deploy fails, goes on
serving): a migration that drops or renames a column or table, or adds a NOT NULL column the old
code does not fill, breaks it. `invoke migrate --lint` first runs django-migration-linter on the
migrations this database has not applied yet (commands.lint_migrations) and `verdict` below reads
its output: nothing is migrated when one is backward incompatible, unless that is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ops.errors import UserError

# What the linter prints for a migration it refuses, then one tab-indented line per reason:
# "(accounts, 0002_remove_user_last_name)... ERR" ("ERR (cached)" when its cache is on).
ERRONEOUS = re.compile(r"^\((?P<app>[^,()]+), (?P<name>[^()]+)\)\.\.\. ERR\b")


@dataclass(frozen=True)
class Finding:
    migration: str  # app_label.name
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.migration} ({'; '.join(self.reasons)})" if self.reasons else self.migration


def findings(output: str) -> list[Finding]:
    """The migrations the linter's output marks as erroneous, with the reasons it gives."""
    found: list[Finding] = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        match = ERRONEOUS.match(line)
        if not match:
            continue
        reasons = []
        for following in lines[index + 1:]:
            if not following.startswith("\t"):
                break
            reasons.append(following.strip())
        found.append(Finding(f"{match['app']}.{match['name']}", tuple(reasons)))
    return found


def refusal(found: list[Finding]) -> str:
    listed = "\n".join(f"  {finding}" for finding in found)
    these, run, them = (("this migration", "it runs", "it") if len(found) == 1
                        else (f"these {len(found)} migrations", "they run", "them"))
    return (
        f"Nothing was migrated: {these}, not yet applied to this database, would break the version "
        f"still serving while {run} (that version reads and writes the old schema until the new "
        f"one replaces it):\n{listed}\n"
        f"Make the change backward compatible across two deploys: first deploy code that no "
        f"longer uses the column or table, then drop or rename it in a later deploy (and add a new "
        f"column nullable or with db_default). When the break is intended, --allow-breaking "
        f"applies {them} anyway (invoke migrate --lint --allow-breaking; the deploy: invoke deploy "
        f"--allow-breaking-migrations). Where the linter is wrong about one (on MySQL any "
        f"AlterField of a NOT NULL column reads as adding NOT NULL), add "
        f"django_migration_linter.IgnoreMigration() to that migration's operations."
    )


def verdict(exit_code: int, output: str, *, allow_breaking: bool) -> str | None:
    """After `lintmigrations` exited with `exit_code` and printed `output`: None when migrating may
    go on, the warning to print when backward-incompatible migrations are allowed through, else
    UserError (a refusal, or a linter that failed without naming a migration)."""
    if exit_code == 0:
        return None
    found = findings(output)
    if not found:
        raise UserError(f"The migration linter failed (exit code {exit_code}) without naming a "
                        f"migration; its output is above. Nothing was migrated.")
    if not allow_breaking:
        raise UserError(refusal(found))
    listed = "; ".join(str(finding) for finding in found)
    return (f"warning: applying backward-incompatible migrations (--allow-breaking): {listed}. "
            f"The version still serving may fail against the new schema until the new version "
            f"replaces it.")
