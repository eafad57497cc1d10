"""WSGI entry point for gunicorn; the settings module follows APP_ENV / CI."""

import gc
import os

from django.core.wsgi import get_wsgi_application

from application_service.environment import default_name, settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module(default_name()))

application = get_wsgi_application()

# What loading took lives as long as the worker: frozen out of the garbage collector's way, its
# collections scan only what requests make (about 2% of the instructions of an API request).
gc.freeze()
