#!/usr/bin/env python
"""Django's command-line utility. With no environment named (APP_ENV), the local settings."""

import os
import sys


def main() -> None:
    # Set before the project package loads: its Celery app defaults to production otherwise.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                          f"application_service.environments.{os.environ.get('APP_ENV') or 'local'}")
    from django.core.exceptions import ImproperlyConfigured
    from environs import EnvError

    from application_service.environments import ConfigurationError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except (ConfigurationError, ImproperlyConfigured, EnvError) as exc:
        # A setting the user must fix: say which, without a traceback.
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
