"""WSGI entry point for gunicorn; the settings module follows APP_ENV / CI."""

import os

from django.core.wsgi import get_wsgi_application

from application_service.environment import default_name, settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module(default_name()))

application = get_wsgi_application()
