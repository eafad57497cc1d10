"""The Celery app, beside the settings; it finds each app's jobs in its `jobs.py`.

Jobs live in `jobs.py`, not `tasks.py`: invoke looks for a tasks.py by walking up from the
working directory, so an app module of that name would be taken for the task file.
Started with no environment named, it runs production's settings, which refuse to start
without their secrets: never the local ones, with DEBUG on and a public key.
"""

import os

from celery import Celery
from celery.signals import worker_init, worker_shutdown

from application_service import logs, metrics_processes

os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                      f"application_service.environments.{os.environ.get('APP_ENV') or 'production'}")

app = Celery("application_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="jobs")
# The platform's own jobs (application_service/jobs.py): this package is not an installed app.
app.autodiscover_tasks(["application_service"], related_name="jobs")
# With METRICS_PORT set, the worker serves its jobs' metrics (README, "Metrics").
worker_init.connect(metrics_processes.worker_started)
worker_shutdown.connect(metrics_processes.worker_stopped)
# The worker's and beat's lines in the service's format, each job's with its request's id.
logs.follow_jobs()
