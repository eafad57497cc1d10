"""WSGI entry point of the bench's references (ops.bench.references.baseline by default) for `invoke bench`.

As the project's (application_service/wsgi.py), and with the same garbage collector setting.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops.bench.references.baseline")

application = get_wsgi_application()

gc.freeze()
