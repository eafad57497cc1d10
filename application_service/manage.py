#!/usr/bin/env python
"""Django's command-line utility; the settings module follows APP_ENV / CI (see environment.py)."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured


def main() -> None:
    from application_service.environment import ConfigurationError, default_name, settings_module

    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module(default_name()))
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except (ConfigurationError, ImproperlyConfigured) as exc:
        # A setting the user must fix: say which, without a traceback.
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
