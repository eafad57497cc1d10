"""The HEALTHCHECK's probe against a real local HTTP server."""

from __future__ import annotations

import http.server
import threading

import pytest

from ops import healthcheck
from ops.errors import UserError
from ops.testing import free_port


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_200_is_healthy(server):
    assert healthcheck.healthz(f"{server}/healthz") == f"{server}/healthz: 200"


def test_another_status_is_unhealthy(server):
    with pytest.raises(UserError, match="answered 503"):
        healthcheck.healthz(f"{server}/readyz")


def test_nothing_listening_is_unhealthy():
    with pytest.raises(UserError, match="does not answer"):
        healthcheck.healthz(f"http://127.0.0.1:{free_port()}/healthz", timeout=2)
