"""WSGI entry point of the bare Django baseline (benchmarks.baseline) for `invoke bench`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.baseline")

application = get_wsgi_application()
