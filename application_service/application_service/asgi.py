"""ASGI entry point; the settings module follows APP_ENV / CI."""

import os

from django.core.asgi import get_asgi_application

from application_service.environment import default_name, settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module(default_name()))

application = get_asgi_application()
