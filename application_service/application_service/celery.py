"""The Celery app, beside the settings; it finds each app's jobs in its `jobs.py`.

Jobs live in `jobs.py`, not `tasks.py`: invoke looks for a tasks.py by walking up from the
working directory, so an app module of that name would be taken for the task file.
Started with no environment named, it runs production's settings, which refuse to start
without their secrets: never the local ones, with DEBUG on and a public key.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                      f"application_service.environments.{os.environ.get('APP_ENV') or 'production'}")

app = Celery("application_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="jobs")
