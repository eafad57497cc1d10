"""Login for programs (tokens) and for people (session login page, CSRF, logout)."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ops.testing import throttle_rates

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/auth/me/"
PASSWORD = "a long enough test password"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


def test_obtain_a_token_and_use_it(anonymous, alice):
    response = anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=alice).key
    assert anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD}).json()["token"] == token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(ME).json() == {"id": alice.pk, "username": "alice", "is_staff": False}


def test_revoke_signs_out_every_client_of_the_token(anonymous, alice):
    token = anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD}).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.delete(TOKEN).status_code == 204
    assert not Token.objects.filter(user=alice).exists()
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "message": "Invalid token."}
    fresh = anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD}).json()["token"]
    assert fresh != token


def test_a_stale_token_header_does_not_block_obtaining_a_new_one(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert client.post(TOKEN, {"username": "alice", "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("credentials", [
    {"username": "alice", "password": "wrong"},
    {"username": "nobody", "password": PASSWORD},
])
def test_wrong_credentials_are_one_validation_error(anonymous, alice, credentials):
    response = anonymous.post(TOKEN, credentials)
    assert response.status_code == 400
    assert response.json()["fields"] == {"non_field_errors": [{
        "code": "invalid_credentials",
        "message": "These credentials are not valid, or the account is inactive.",
    }]}
    assert not Token.objects.exists()


def test_inactive_users_get_no_token(anonymous, alice):
    alice.is_active = False
    alice.save()
    assert anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD}).status_code == 400


def test_token_obtain_reports_missing_and_unknown_fields(anonymous):
    response = anonymous.post(TOKEN, {"user": "alice"})
    assert response.status_code == 400
    assert {name: [e["code"] for e in errors] for name, errors in response.json()["fields"].items()} == {
        "username": ["required"], "password": ["required"], "user": ["unknown_field"],
    }


def test_password_guessing_is_throttled_per_address(settings, anonymous, alice):
    throttle_rates(settings, auth="3/minute")
    codes = [anonymous.post(TOKEN, {"username": "alice", "password": f"guess {n}"}).status_code
             for n in range(4)]
    assert codes == [400, 400, 400, 429]
    # The right password waits too: the limit is on attempts, not failures.
    response = anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_me_and_revoke_need_authentication(anonymous):
    for response in (anonymous.get(ME), anonymous.delete(TOKEN)):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_a_malformed_authorization_header_is_401(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Token two words")
    response = anonymous.get("/api/v1/messages/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


# People: the login page, the session, logout

def test_login_page_signs_in_then_logout(client, alice):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'name="username"' in page.text and "csrfmiddlewaretoken" in page.text
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"
    assert client.get(ME).json()["username"] == "alice"  # the session works for the API
    assert "Signed in as <strong>alice</strong>" in client.get("/accounts/login/").text
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get(ME).status_code == 401


def test_login_page_rejects_a_wrong_password(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert 'id="login-error"' in response.text
    assert client.get(ME).status_code == 401


def test_login_page_attempts_share_the_token_endpoints_budget(settings, client, anonymous, alice):
    throttle_rates(settings, auth="3/minute")
    assert anonymous.post(TOKEN, {"username": "alice", "password": "guess"}).status_code == 400
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": "alice", "password": "guess"}).status_code == 200
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert 'id="login-throttled"' in response.text
    assert client.get(ME).status_code == 401  # not signed in


def test_login_page_needs_its_csrf_token(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_without_a_session_cookie_the_session_is_never_looked_up(rf):
    from django.utils.functional import SimpleLazyObject
    from rest_framework.request import Request

    from application_service.api.authentication import SessionAuthentication

    request = rf.get(ME)
    request.user = SimpleLazyObject(lambda: pytest.fail("request.user was evaluated"))
    assert SessionAuthentication().authenticate(Request(request)) is None


def test_a_session_cookie_signs_in_and_a_stale_one_does_not(anonymous, alice):
    assert anonymous.login(username="alice", password=PASSWORD)
    assert anonymous.get(ME).json()["username"] == "alice"
    anonymous.logout()
    anonymous.cookies["sessionid"] = "no-such-session"
    response = anonymous.get(ME)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
