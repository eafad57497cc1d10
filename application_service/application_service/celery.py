"""The Celery app, beside the settings; it finds each app's jobs in its `jobs.py`.

Jobs live in `jobs.py`, not `tasks.py`: invoke looks for a tasks.py by walking up from the
working directory, so an app module of that name would be taken for the task file.
"""

import os

from celery import Celery

from application_service.environment import default_name, settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module(default_name()))

app = Celery("application_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="jobs")
