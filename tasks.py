"""The task surface of Little Service: developers, Docker, CircleCI, CodeBuild and .ci/run call these.

An index: each namespace is a module of ops/tasks that exports its collection; what the tasks
do lives in tested functions elsewhere in ops/. `invoke --list` shows the tasks and
`invoke --help TASK` a task's options.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The Django project beside this file: ops imports its environments and database modules.
sys.path.insert(0, str(ROOT / "application_service"))

from invoke import Collection

from ops.tasks import audit, aws, bench, build, celery, core, db, deploy, dev, docker, logs, secrets

ns = Collection(*core.TASKS, *deploy.TASKS, logs.logs, audit.audit,
                dev.ns, db.ns, celery.ns, docker.ns, build.ns, bench.ns, aws.ns, secrets.ns)
ns.configure(deploy.DEFAULTS)
ns.configure({
    # Names every AWS resource, secret path and stack: <project>-<env>.
    "project": {"name": "little-service"},
    "serve": {
        "bind": "127.0.0.1:8000",
        "workers": 2,
        "timeout": 30,
        "graceful_timeout": 30,
        "keep_alive": 5,
        "max_requests": 0,
    },
})
