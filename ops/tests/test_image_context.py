"""What the build context leaves out: the embedded broker's folder and the checkout's own tools.

The embedded broker (`invoke dev` without Redis: Celery's filesystem transport) keeps its queue,
results and beat schedule in CELERY_FILESYSTEM_DIR; its default is inside application_service/,
which the image copies. Messages queued on a developer's machine must never ship.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ops.envvars import PROJECT_DIR, Environment
from ops.testing import REPOSITORY
from ops.tests.test_images import context_files, make_repository

SETTINGS_DEFAULT = """
from application_service.environments import base
print(base.CELERY_FILESYSTEM_DIR)
"""


def embedded_broker_folder() -> Path:
    """CELERY_FILESYSTEM_DIR as the settings default it (no REDIS_URL, nothing set), relative to
    the repository; the tasks' own idea of it (beat's schedule) must agree."""
    environ = {key: value for key, value in os.environ.items()
               if key not in {"CELERY_FILESYSTEM_DIR", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    environ["PYTHONPATH"] = str(PROJECT_DIR)
    printed = subprocess.run([sys.executable, "-c", SETTINGS_DEFAULT], env=environ, cwd=REPOSITORY,
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    folder = Path(printed)
    assert folder == Path(Environment("local", {}).embedded_broker_dir)
    return folder.relative_to(REPOSITORY)


def test_the_embedded_broker_s_folder_never_enters_the_image(tmp_path):
    repository = make_repository(tmp_path)
    broker = embedded_broker_folder()
    assert broker.parts[0] == "application_service"  # inside what the image copies
    state = [broker / "queue" / "0001.msg", broker / "control" / "celery.pidbox", broker / "results" / "r-1",
             broker / "beat-schedule", broker / "beat.pid"]
    for path in state:
        (repository / path).parent.mkdir(parents=True, exist_ok=True)
        (repository / path).write_text("{}")
    files = context_files(repository)
    assert "application_service/manage.py" in files  # its neighbours do enter
    assert not {name for name in files if Path(name).is_relative_to(broker)}


def test_the_checkout_s_audit_and_branch_tools_stay_out_of_the_image(tmp_path):
    repository = make_repository(tmp_path)
    for name in ("ops/audit.py", "ops/source_branch.py", "ops/tasks/audit.py", "audit/accepted.toml"):
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_text("")
    files = context_files(repository)
    assert "ops/tasks/audit.py" in files  # tasks.py loads it inside the image too
    assert not {"ops/audit.py", "ops/source_branch.py", "audit/accepted.toml"} & files
