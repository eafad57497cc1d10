"""Login for programs (tokens: one per client, hashed at rest, expiring, revocable one by one)
and for people (session login page, CSRF, logout)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from ops.testing import throttle_rates

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
TOKENS = "/api/v1/auth/tokens/"
ME = "/api/v1/auth/me/"
PASSWORD = "a long enough test password"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


def obtain(client: APIClient, username: str = "alice", password: str = PASSWORD) -> dict:
    response = client.post(TOKEN, {"username": username, "password": password})
    assert response.status_code == 200, response.json()
    return response.json()


def signed_in(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_obtain_a_token_and_use_it(anonymous, alice):
    issued = obtain(anonymous)
    assert set(issued) == {"token", "expiry"}
    me = signed_in(issued["token"]).get(ME).json()
    assert me == {"id": alice.pk, "username": "alice", "is_staff": False}
    expiry = datetime.fromisoformat(issued["expiry"])
    assert issued["expiry"].endswith("Z")
    assert abs(expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_each_client_gets_its_own_token_and_only_its_hash_is_stored(anonymous, alice):
    first, second = obtain(anonymous)["token"], obtain(anonymous)["token"]
    assert first != second
    rows = list(AuthToken.objects.filter(user=alice).values())
    assert len(rows) == 2
    assert not [value for row in rows for value in row.values() if value in (first, second)]
    assert {row["token_key"] for row in rows} == {first[:15], second[:15]}
    assert all(signed_in(key).get(ME).status_code == 200 for key in (first, second))


def test_revoking_a_token_signs_out_its_client_only(anonymous, alice):
    first, second = obtain(anonymous)["token"], obtain(anonymous)["token"]
    assert signed_in(first).delete(TOKEN).status_code == 204
    response = signed_in(first).get(ME)
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "message": "Invalid token."}
    assert signed_in(second).get(ME).status_code == 200


def test_the_token_list_shows_each_token_but_never_a_key(anonymous, alice, make_user):
    keys = [obtain(anonymous)["token"] for _ in range(2)]
    make_user("bob", password=PASSWORD)
    obtain(anonymous, "bob")
    response = signed_in(keys[0]).get(TOKENS)
    assert response.status_code == 200
    listed = response.json()
    assert [token["token_key"] for token in listed] == [keys[1][:15], keys[0][:15]]  # newest first
    assert all(set(token) == {"token_key", "created", "expiry"} for token in listed)
    assert not any(key in response.text for key in keys)


def test_one_token_is_revoked_by_its_listed_key(anonymous, alice, make_user):
    first, second = obtain(anonymous)["token"], obtain(anonymous)["token"]
    client = signed_in(second)
    assert client.delete(f"{TOKENS}{first[:15]}/").status_code == 204
    assert signed_in(first).get(ME).status_code == 401
    assert client.get(ME).status_code == 200
    response = client.delete(f"{TOKENS}{first[:15]}/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    # Another user's token is not found either, and stays.
    make_user("bob", password=PASSWORD)
    bobs = obtain(anonymous, "bob")["token"]
    assert client.delete(f"{TOKENS}{bobs[:15]}/").status_code == 404
    assert signed_in(bobs).get(ME).status_code == 200


def test_every_token_is_revoked_at_once(anonymous, alice):
    keys = [obtain(anonymous)["token"] for _ in range(3)]
    assert signed_in(keys[0]).delete(TOKENS).status_code == 204
    assert [signed_in(key).get(ME).status_code for key in keys] == [401, 401, 401]
    assert not AuthToken.objects.exists()


def test_an_expired_token_is_refused_and_not_listed(anonymous, alice):
    old, fresh = obtain(anonymous)["token"], obtain(anonymous)["token"]
    AuthToken.objects.filter(token_key=old[:15]).update(expiry=timezone.now() - timedelta(seconds=1))
    assert signed_in(old).get(ME).status_code == 401
    assert [token["token_key"] for token in signed_in(fresh).get(TOKENS).json()] == [fresh[:15]]


def test_a_user_holds_a_bounded_number_of_tokens(settings, anonymous, alice):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_LIMIT_PER_USER": 2}
    keys = [obtain(anonymous)["token"] for _ in range(2)]
    response = anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert response.json()["fields"]["non_field_errors"][0]["code"] == "too_many_tokens"
    assert signed_in(keys[0]).delete(TOKEN).status_code == 204
    obtain(anonymous)  # room again


def test_a_session_has_no_token_to_revoke(client, alice):
    client.force_login(alice)
    assert client.get(TOKENS).status_code == 200  # a person manages their tokens in the browser
    response = client.delete(TOKEN)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


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
    assert not AuthToken.objects.exists()


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
    throttle_rates(settings, auth="3/day")  # one window for the whole test
    codes = [anonymous.post(TOKEN, {"username": "alice", "password": f"guess {n}"}).status_code
             for n in range(4)]
    assert codes == [400, 400, 400, 429]
    # The right password waits too: the limit is on attempts, not failures.
    response = anonymous.post(TOKEN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_me_and_the_token_endpoints_need_authentication(anonymous):
    for response in (anonymous.get(ME), anonymous.delete(TOKEN), anonymous.get(TOKENS),
                     anonymous.delete(TOKENS), anonymous.delete(f"{TOKENS}0123456789abcde/")):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"


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
    throttle_rates(settings, auth="3/day")  # one window for the whole test
    assert anonymous.post(TOKEN, {"username": "alice", "password": "guess"}).status_code == 400
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": "alice", "password": "guess"}).status_code == 200
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 86400
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
    from django.http import HttpRequest

    # django-axes needs the request of every authenticate() (force_login needs none).
    assert anonymous.login(request=HttpRequest(), username="alice", password=PASSWORD)
    assert anonymous.get(ME).json()["username"] == "alice"
    anonymous.logout()
    anonymous.cookies["sessionid"] = "no-such-session"
    response = anonymous.get(ME)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize("header", ["Token abc\xcfdef", "Token \xff\xfe", "Token \xe9t\xe9"])
def test_a_token_that_is_not_utf8_is_a_401_not_a_500(anonymous, header):
    """knox decodes the token unguarded; found by schemathesis (a 500 for `Token \\xcf`)."""
    response = anonymous.delete("/api/v1/auth/tokens/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
