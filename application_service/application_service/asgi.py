"""ASGI entry point. With no environment named (APP_ENV), production's settings."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                      f"application_service.environments.{os.environ.get('APP_ENV') or 'production'}")

application = get_asgi_application()
