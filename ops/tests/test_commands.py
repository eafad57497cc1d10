from pathlib import Path

import pytest

from ops import commands
from ops.envvars import PYTHON, REPORTS_DIR, REPOSITORY
from ops.errors import UserError


def test_manage_line_splits_like_a_shell():
    assert commands.manage_line('createsuperuser --email "a b@c"') == [
        PYTHON, commands.MANAGE, "createsuperuser", "--email", "a b@c"]


def test_manage_line_needs_a_command():
    with pytest.raises(UserError, match="Name a manage.py command"):
        commands.manage_line("  ")


def test_gunicorn_command_carries_the_config():
    argv = commands.gunicorn(commands.ServerConfig(bind="0.0.0.0:8000", workers=4, timeout=20,
                                                   graceful_timeout=10, keep_alive=2, max_requests=1000))
    assert argv[:4] == [PYTHON, "-m", "gunicorn", "application_service.wsgi:application"]
    pairs = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert pairs["--bind"] == "0.0.0.0:8000"
    assert pairs["--workers"] == "4"
    assert pairs["--timeout"] == "20"
    assert pairs["--graceful-timeout"] == "10"
    assert pairs["--keep-alive"] == "2"
    assert argv[-4:] == ["--max-requests", "1000", "--max-requests-jitter", "100"]


def test_pytest_writes_junit_and_coverage_into_reports():
    argv = commands.pytest(extra=["-k", "counter"])
    assert f"--junitxml={REPORTS_DIR / 'junit.xml'}" in argv
    assert f"--cov-report=xml:{REPORTS_DIR / 'coverage.xml'}" in argv
    assert f"--cov-report=html:{REPORTS_DIR / 'htmlcov'}" in argv
    assert argv[-2:] == ["-k", "counter"]
    assert not any(a.startswith("--junitxml") for a in commands.pytest(reports=False))


def test_lint_commands():
    assert commands.deploy_check()[2:] == ["check", "--deploy", "--fail-level", "WARNING"]
    assert commands.makemigrations_check()[2:] == ["makemigrations", "--check", "--dry-run"]


def test_migrate_commands():
    assert commands.migrate()[2:] == ["migrate", "--noinput"]
    assert commands.lint_migrations() == [PYTHON, commands.MANAGE, "lintmigrations",
                                          "--unapplied-migrations", "--no-cache", "--quiet", "ignore"]


def test_celery_worker_and_beat_commands():
    worker = commands.celery_worker(concurrency=2, queues="default,slow", beat=True)
    assert worker[:4] == [PYTHON, "-m", "celery", "--app"]
    assert worker[4] == "application_service.celery"
    assert worker[7:] == ["worker", "--loglevel", "INFO", "--concurrency", "2", "--queues",
                          "default,slow", "--beat"]
    assert commands.celery_worker(beat=True, schedule_dir="/var/x")[-3:] == [
        "--beat", "--schedule", "/var/x/beat-schedule"]
    assert commands.celery_worker(schedule_dir="/var/x")[-2:] == ["--loglevel", "INFO"]  # no beat
    assert commands.celery_worker(concurrency=2, include="a.jobs,b.jobs")[7:] == [
        "worker", "--loglevel", "INFO", "--concurrency", "2", "--include", "a.jobs,b.jobs"]
    beat = commands.celery_beat(schedule_dir="/var/x")
    assert beat[7:] == ["beat", "--loglevel", "INFO", "--schedule", "/var/x/beat-schedule",
                        "--pidfile", "/var/x/beat.pid"]
    assert commands.celery_beat()[7:] == ["beat", "--loglevel", "INFO"]  # Redis: RedBeat's lock
    # Quiet (JSON lines only): Celery's global option, before the command.
    assert commands.celery_worker(quiet=True)[7:9] == ["--quiet", "worker"]
    assert commands.celery_beat(quiet=True)[7:9] == ["--quiet", "beat"]


def test_cfn_lint_checks_the_environment_template_with_the_installed_linter():
    argv = commands.cfn_lint()
    assert Path(argv[0]).name == "cfn-lint" and Path(argv[0]).exists()
    assert argv[1:] == [str(REPOSITORY / "aws" / "environment.yml")]
