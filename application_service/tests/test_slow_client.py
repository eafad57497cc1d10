"""A slow client holds no lock: a message's row is locked only once the request's body is read
and valid (gunicorn hands a request to the view before its body has arrived)."""

import socket
import time
import uuid

import pytest

from ops.testing import http_json, invoke, serving

pytestmark = pytest.mark.integration

PASSWORD = "a-long-test-password-123"


@pytest.fixture(scope="module")
def server(service_database, tmp_path_factory):
    with serving(service_database, tmp_path_factory.mktemp("slow"), workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def token(server, service_database):
    username = f"slow_{uuid.uuid4().hex[:6]}"
    invoke("createsuperuser", "--username", username, "--email", f"{username}@example.com",
           env={**service_database, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, check=True)
    response = http_json("POST", server.url("/api/v1/auth/token/"),
                         {"username": username, "password": PASSWORD})
    assert response.status == 200, response.body
    return response.json()["token"]


def test_a_half_sent_edit_does_not_hold_the_message(server, token):
    created = http_json("POST", server.url("/api/v1/messages/"), {"text": "hold me"}, token=token)
    assert created.status == 201, created.body
    message_id = created.json()["id"]
    port = int(server.base_url.rsplit(":", 1)[1])
    body = b'{"text": "edited"}'
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        slow.sendall(f"PATCH /api/v1/messages/{message_id}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body[:5])
        time.sleep(1)  # the edit is in the view now, waiting for the rest of its body
        started = time.monotonic()
        deleted = http_json("DELETE", server.url(f"/api/v1/messages/{message_id}/"), token=token, timeout=20)
        waited = time.monotonic() - started
        assert deleted.status == 204, deleted.body
        assert waited < 5, f"the delete waited {waited:.1f}s for a lock the half-sent edit held"
        slow.sendall(body[5:])
        answer = slow.recv(200).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 404"), answer  # the message is gone: nothing to edit
    finally:
        slow.close()
