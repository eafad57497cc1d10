"""`invoke migrate --lint`: the linter's verdict read from its output, then the task end to end on
MariaDB in a copy of the project (as the image holds it) given a new migration of its own."""

from __future__ import annotations

import re
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from ops.errors import UserError
from ops.migration_lint import Finding, findings, verdict
from ops.testing import REPOSITORY, invoke, mysql_admin_connection

# lintmigrations' own output (6.0.0, MariaDB): one migration refused with two reasons, one with a
# warning, the summary.
REFUSED = """\
(accounts, 0002_remove_user_last_name)... ERR
\tDROPPING columns (table: accounts_user, column: last_name)
\tNOT NULL constraint on columns
(application, 0003_fill)... WARNING
\t'fill': RunPython data migration is not reversible
(authtoken, 0005_x)... OK
*** Summary ***
Valid migrations: 1/3
Erroneous migrations: 1/3
Migrations with warnings: 1/3
Ignored migrations: 0/3
"""

DROPPED = Finding("accounts.0002_remove_user_last_name",
                  ("DROPPING columns (table: accounts_user, column: last_name)",
                   "NOT NULL constraint on columns"))


def test_findings_are_the_erroneous_migrations_with_their_reasons():
    assert findings(REFUSED) == [DROPPED]
    assert findings("(a, 0001_x)... ERR (cached)\n\tDROPPING table (table: a_x)\n") == [
        Finding("a.0001_x", ("DROPPING table (table: a_x)",))]
    assert findings(REFUSED.replace("... ERR", "... OK")) == []


def test_a_clean_lint_lets_migrate_go_on():
    assert verdict(0, REFUSED.replace("... ERR", "... OK"), allow_breaking=False) is None


def test_a_backward_incompatible_migration_is_refused_with_the_fix():
    with pytest.raises(UserError) as refused:
        verdict(1, REFUSED, allow_breaking=False)
    message = str(refused.value)
    assert message.startswith("Nothing was migrated: this migration, not yet applied to this "
                              "database, would break the version still serving")
    assert ("  accounts.0002_remove_user_last_name (DROPPING columns (table: accounts_user, column: "
            "last_name); NOT NULL constraint on columns)") in message.splitlines()
    assert "application.0003_fill" not in message  # a warning is no reason to refuse
    assert "backward compatible across two deploys" in message
    assert "invoke migrate --lint --allow-breaking" in message
    assert "invoke deploy --allow-breaking-migrations" in message


def test_allowed_breaking_migrations_come_with_a_warning():
    warning = verdict(1, REFUSED, allow_breaking=True)
    assert warning.startswith("warning: applying backward-incompatible migrations (--allow-breaking): "
                              "accounts.0002_remove_user_last_name (DROPPING columns")


@pytest.mark.parametrize("allow_breaking", [False, True])
def test_a_linter_that_fails_without_naming_a_migration_stops_migrate_even_when_allowed(allow_breaking):
    crashed = "Traceback (most recent call last):\n  ...\nValueError: no such migration\n"
    with pytest.raises(UserError, match=r"The migration linter failed \(exit code 1\) without naming"):
        verdict(1, crashed, allow_breaking=allow_breaking)


# End to end on MariaDB: `invoke migrate --lint` in a copy of the project, under production settings.

MIGRATION = '''from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("{app}", "{leaf}")]

    operations = [{operation}]
'''


@pytest.fixture
def project(tmp_path) -> Path:
    """What the image holds of the repository: the task file, ops and the Django project."""
    copy = tmp_path / "repository"
    skip = shutil.ignore_patterns("tests", "__pycache__", "var", "db.sqlite3", "staticfiles", "conftest.py")
    copy.mkdir()
    shutil.copy2(REPOSITORY / "tasks.py", copy / "tasks.py")
    for folder in ("ops", "application_service", "env"):
        shutil.copytree(REPOSITORY / folder, copy / folder, ignore=skip)
    return copy


@pytest.fixture
def database(mysql_url, redis_url):
    """An empty MySQL database and the production environment that names it."""
    name = f"little_service_lint_{uuid.uuid4().hex[:8]}"
    admin = mysql_admin_connection(mysql_url)
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "APP_ENV": "production",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "NUM_PROXIES": "0",
        "DATABASE_URL": mysql_url + name,
        "REDIS_URL": redis_url,
    }
    try:
        yield name, env, admin
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def add_migration(project: Path, app: str, suffix: str, operation: str) -> str:
    """A new migration of `app` after its latest one; its name."""
    folder = project / "application_service" / app / "migrations"
    leaf = max(path.stem for path in folder.glob("[0-9][0-9][0-9][0-9]_*.py"))
    name = f"{int(leaf[:4]) + 1:04d}_{suffix}"
    (folder / f"{name}.py").write_text(MIGRATION.format(app=app, leaf=leaf, operation=operation))
    return name


def columns(admin, schema: str, table: str) -> set[str]:
    cursor = admin.cursor()
    cursor.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                   "AND TABLE_NAME = %s", (schema, table))
    return {row[0] for row in cursor.fetchall()}


def applied(admin, schema: str, app: str) -> set[str]:
    cursor = admin.cursor()
    cursor.execute(f"SELECT name FROM `{schema}`.django_migrations WHERE app = %s", (app,))
    return {row[0] for row in cursor.fetchall()}


def migrated_before(project, database) -> None:
    """The database as the version now serving left it: every migration of the project applied
    by `invoke migrate` without --lint, which migrates as it always did."""
    name, env, admin = database
    invoke("migrate", env=env, cwd=project, check=True)
    assert "last_name" in columns(admin, name, "accounts_user")


@pytest.mark.integration
@pytest.mark.mysql
def test_a_fresh_database_is_linted_and_migrated(project, database):
    name, env, admin = database
    result = invoke("migrate", "--lint", env=env, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(accounts, 0001_initial)... OK" in result.stdout
    assert "Erroneous migrations: 0/" in result.stdout
    assert "0001_initial" in applied(admin, name, "accounts")
    assert "Applying accounts.0001_initial... OK" in result.stdout


DROP_LAST_NAME = 'migrations.RemoveField("user", "last_name")'
ADD_NICKNAME = 'migrations.AddField("user", "nickname", models.CharField(max_length=40, null=True))'


@pytest.mark.integration
@pytest.mark.mysql
def test_a_migration_dropping_a_column_is_refused_and_nothing_is_migrated(project, database):
    name, env, admin = database
    migrated_before(project, database)
    dropping = add_migration(project, "accounts", "remove_user_last_name", DROP_LAST_NAME)

    result = invoke("migrate", "--lint", env=env, cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("\nerror: Nothing was migrated: this migration, not yet applied to this database, would "
            "break the version still serving") in result.stderr
    assert (f"  accounts.{dropping} (DROPPING columns (table: accounts_user, column: last_name))"
            in result.stderr.splitlines())
    assert "invoke deploy --allow-breaking-migrations" in result.stderr
    assert "Traceback" not in result.stderr
    assert "manage.py migrate" not in result.stdout
    assert "last_name" in columns(admin, name, "accounts_user")
    assert dropping not in applied(admin, name, "accounts")


@pytest.mark.integration
@pytest.mark.mysql
def test_allow_breaking_applies_it_with_a_warning(project, database):
    name, env, admin = database
    migrated_before(project, database)
    dropping = add_migration(project, "accounts", "remove_user_last_name", DROP_LAST_NAME)

    result = invoke("migrate", "--lint", "--allow-breaking", env=env, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"warning: applying backward-incompatible migrations (--allow-breaking): "
            f"accounts.{dropping} (DROPPING columns") in result.stderr
    assert f"Applying accounts.{dropping}... OK" in result.stdout
    assert "last_name" not in columns(admin, name, "accounts_user")
    assert dropping in applied(admin, name, "accounts")


@pytest.mark.integration
@pytest.mark.mysql
def test_a_backward_compatible_migration_passes(project, database):
    name, env, admin = database
    migrated_before(project, database)
    adding = add_migration(project, "accounts", "user_nickname", ADD_NICKNAME)

    result = invoke("migrate", "--lint", env=env, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"(accounts, {adding})... OK" in result.stdout
    assert "(accounts, 0001_initial)" not in result.stdout  # applied already: not linted
    assert "nickname" in columns(admin, name, "accounts_user")
    assert adding in applied(admin, name, "accounts")


@pytest.mark.integration
@pytest.mark.mysql
def test_the_project_s_own_migrations_all_pass_the_linter(database):
    """A new project starts clean: every migration it ships (the platform's, the sample app's, those
    of the third-party apps it installs) passes the linter on MySQL, without errors or warnings;
    only the third-party history that MIGRATION_LINTER_OPTIONS names (axes and knox dropping
    their own old columns, long applied everywhere) is ignored, by name."""
    from application_service.environments.base import MIGRATION_LINTER_OPTIONS

    _, env, _ = database
    result = invoke("manage", "lintmigrations --no-cache", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    linted = re.findall(r"^\((\w+), (\w+)\)\.\.\. (.+)$", result.stdout, re.M)
    assert ("accounts", "0001_initial", "OK") in linted
    ignored = [(app, name) for app, name, outcome in linted if outcome == "IGNORE"]
    assert {app for app, _ in ignored} <= {"axes", "knox"}, ignored
    assert sorted(name for _, name in ignored) == sorted(MIGRATION_LINTER_OPTIONS["ignore_name"])
    assert all(outcome in {"OK", "IGNORE"} for *_, outcome in linted), linted


@pytest.mark.integration
@pytest.mark.mysql
def test_migrate_waits_out_a_long_migration_whatever_read_timeout_serving_has(project, database):
    """Serving's DB_READ_TIMEOUT (here 1 s, from the env file) does not cut a migration short; a
    timeout set for the run itself still applies."""
    name, env, admin = database
    with (project / "env" / "production.env").open("a") as env_file:
        env_file.write("\nDB_READ_TIMEOUT=1\n")
    migration = add_migration(project, "application", "slow",
                              'migrations.RunSQL("SELECT SLEEP(3)", migrations.RunSQL.noop)')
    cut_short = invoke("migrate", env={**env, "DB_READ_TIMEOUT": "1"}, cwd=project, timeout=300)
    assert cut_short.returncode != 0
    assert "Lost connection" in cut_short.stdout + cut_short.stderr  # the read timeout, not another failure
    assert migration not in applied(admin, name, "application")
    waited = invoke("migrate", env=env, cwd=project, timeout=300)
    assert waited.returncode == 0, waited.stderr
    assert migration in applied(admin, name, "application")
