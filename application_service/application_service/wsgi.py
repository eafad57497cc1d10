"""WSGI entry point for gunicorn. With no environment named (APP_ENV), production's settings."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                      f"application_service.environments.{os.environ.get('APP_ENV') or 'production'}")

application = get_wsgi_application()

# What loading took lives as long as the worker: frozen out of the garbage collector's way, its
# collections scan only what requests make.
gc.freeze()
