"""WSGI entry point for gunicorn. With no environment named (APP_ENV), production's settings."""

import contextlib
import gc
import os

import django
from django.core.exceptions import TooManyFieldsSent
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpRequest

os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                      f"application_service.environments.{os.environ.get('APP_ENV') or 'production'}")


class Request(WSGIRequest):
    """Django's request, built even when its query string has more fields than
    DATA_UPLOAD_MAX_NUMBER_FIELDS and its Content-Type names a charset.

    Building the request sets its encoding from that charset, and the encoding's setter asks
    `hasattr(self, "GET")`, which parses the query string: the TooManyFieldsSent escaped before
    any middleware ran, as gunicorn's own 500 with no request id and no log line. Here the request
    is built; reading GET raises it again inside the handler, which answers 400 and logs one line.
    """

    @property
    def encoding(self):
        return HttpRequest.encoding.fget(self)

    @encoding.setter
    def encoding(self, value):
        # On TooManyFieldsSent the encoding is set and GET was never built: nothing is stale.
        with contextlib.suppress(TooManyFieldsSent):
            HttpRequest.encoding.fset(self, value)


class Handler(WSGIHandler):
    request_class = Request


# As django.core.wsgi.get_wsgi_application(), with the request above.
django.setup(set_prefix=False)
application = Handler()

# What loading took lives as long as the worker: frozen out of the garbage collector's way, its
# collections scan only what requests make.
gc.freeze()
