"""WSGI entry point of the bench's references (benchmarks.baseline by default) for `invoke bench`.

As the project's (application_service/wsgi.py), and with the same garbage collector setting.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.baseline")

application = get_wsgi_application()

gc.freeze()
