import os

from ops import doctor, locks
from ops.envvars import resolve
from ops.testing import free_port, invoke, with_wrong_password


def test_requirement_names_reads_in_and_lock_files(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("# c\n-r other.in\nDjango>=5.2\nsome_pkg==1.0 \\\n    --hash=sha256:x\n")
    assert locks.requirement_names(path) == {"django", "some-pkg"}


def test_unlocked_requirements_names_each_lock_that_lacks_a_declared_package(tmp_path):
    (tmp_path / "requirements.in").write_text("Django>=5.2\n")
    (tmp_path / "requirements.txt").write_text("django==5.2 \\\n    --hash=sha256:x\n")
    (tmp_path / "requirements-dev.in").write_text("-r requirements.in\nboto3>=1.35\nmoto[server]>=5\n")
    (tmp_path / "requirements-dev.txt").write_text("django==5.2 \\\n    --hash=sha256:x\nmoto==5.1\n")
    assert locks.unlocked_requirements(tmp_path) == ["boto3 (requirements-dev.txt)"]
    (tmp_path / "requirements.in").write_text("Django>=5.2\ngunicorn>=23\n")
    assert locks.unlocked_requirements(tmp_path) == ["gunicorn (requirements.txt)",
                                                      "boto3 (requirements-dev.txt)"]


def test_names_compare_as_pip_compares_them(tmp_path):
    """Case, '-', '_' and '.' are one (PEP 503): a lock writing zope-interface locks zope.interface."""
    (tmp_path / "requirements.in").write_text("zope.interface>=6\nPyYAML>=6\nDjango_Filter>=24\n")
    (tmp_path / "requirements.txt").write_text("django-filter==25.1\npyyaml==6.0.2\nzope-interface==7.2\n")
    (tmp_path / "requirements-dev.in").write_text("-r requirements.in\n")
    (tmp_path / "requirements-dev.txt").write_text("")
    assert locks.unlocked_requirements(tmp_path) == []
    assert locks.requirement_names(tmp_path / "requirements.in") == {"zope-interface", "pyyaml",
                                                                      "django-filter"}


def test_the_repository_locks_cover_their_in_files():
    assert locks.unlocked_requirements() == []


def test_local_environment_needs_no_service():
    findings = doctor.examine(resolve("local", {"DATABASE_URL": "sqlite:////tmp/x.db"}))
    assert [f.name for f in findings] == ["python", "lock", "services"]
    python, _, services = findings
    assert python.ok and services.ok and services.detail.startswith("none needed")


def test_the_lock_check_reads_the_stamp_bootstrap_writes(tmp_path):
    import bootstrap

    missing = doctor.check_lock(tmp_path)
    assert not missing.ok and "was not installed by bootstrap.py" in missing.detail
    (tmp_path / bootstrap.STAMP).write_text("an older lock's digest")
    older = doctor.check_lock(tmp_path)
    assert not older.ok and older.fix.startswith("run: python3 bootstrap.py doctor")
    (tmp_path / bootstrap.STAMP).write_text(bootstrap.lock_digest(False))
    assert doctor.check_lock(tmp_path).ok


def test_a_down_service_is_reported_with_its_fix():
    port = free_port()
    findings = doctor.examine(resolve("ci", {"DATABASE_URL": f"mysql://root@127.0.0.1:{port}/d",
                                             "REDIS_URL": f"redis://127.0.0.1:{port}/0"}))
    failed = {f.name: f for f in findings if not f.ok}
    assert set(failed) - {"lock"} == {"database", "redis"}
    text = doctor.report(findings)
    assert "FAIL database" in text and "fix: start MySQL/MariaDB" in text
    assert "fix: start Redis" in text


def test_doctor_checks_the_database_itself_not_only_its_server(mysql_url):
    findings = doctor.examine(resolve("ci", {"DATABASE_URL": mysql_url + "little_service_never_created",
                                             "REDIS_URL": "redis://127.0.0.1:6379/0"}))
    database = next(finding for finding in findings if finding.name == "database")
    assert not database.ok
    assert database.detail == "the database 'little_service_never_created' does not exist"
    assert database.fix == "run `invoke db.create` (it creates it, utf8mb4)"


def test_production_doctor_names_each_missing_setting_and_never_calls_the_database_sqlite():
    env = {key: value for key, value in os.environ.items()
           if key not in {"APP_ENV", "CI", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DB_HOST", "REDIS_URL",
                          "SECRET_KEY", "ALLOWED_HOSTS", "NUM_PROXIES"}}
    result = invoke("doctor", "--env", "production", env=env)
    assert result.returncode == 1
    assert ("FAIL settings: The production environment cannot start: SECRET_KEY, ALLOWED_HOSTS, "
            "DATABASE_URL, REDIS_URL, NUM_PROXIES are not set.") in result.stdout
    assert ("FAIL services: The production environment needs MySQL, but DATABASE_URL is not set; "
            "set it to mysql://user:password@host:3306/name.") in result.stdout
    assert "sqlite" not in result.stdout.lower()
    assert "<env>" not in result.stdout and "env/production.env" in result.stdout
    assert result.stderr.strip() == "doctor found problems; each has its fix above."


def test_a_refused_password_is_answered_with_the_password_fix_not_a_server_start(mysql_url):
    wrong = with_wrong_password(mysql_url)
    findings = doctor.examine(resolve("ci", {"DATABASE_URL": wrong, "REDIS_URL": "redis://127.0.0.1:6379/0"}))
    database = next(finding for finding in findings if finding.name == "database")
    assert not database.ok and "Access denied" in database.detail
    assert database.fix == ("check the user and password in DATABASE_URL: the server answered and "
                            "refused them")
    assert "start-stop-daemon" not in doctor.report(findings)
