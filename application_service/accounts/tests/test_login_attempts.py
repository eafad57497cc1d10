"""Password guessing: every way to try a password (the admin's login, the login page, the token
endpoint) draws on one budget of failures per address and one per username, kept in the database."""

from __future__ import annotations

import socket
from datetime import timedelta
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from application_service.api.throttling import client_address
from ops.testing import throttle_rates

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
LOGIN = "/accounts/login/"
ME = "/api/v1/auth/me/"
PASSWORD = "a long enough test password"
COOL_OFF = 15 * 60


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="root", password=PASSWORD, is_staff=True)


def budgets(settings, *, per_username: int = 5, per_address: int = 20) -> None:
    settings.LOGIN_FAILURES_PER_USERNAME = per_username
    settings.LOGIN_FAILURES_PER_ADDRESS = per_address
    settings.AXES_FAILURE_LIMIT = max(per_username, per_address)


def token_attempt(username: str, password: str, **request):
    return APIClient().post(TOKEN, {"username": username, "password": password}, **request)


def login_page_attempt(username: str, password: str, client: Client | None = None, **request):
    return (client or Client()).post(LOGIN, {"username": username, "password": password}, **request)


def admin_attempt(username: str, password: str, **request):
    return Client().post(reverse("admin:login"), {"username": username, "password": password,
                                                  "next": reverse("admin:index")}, **request)


def assert_api_locked_out(response) -> None:
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert body["message"].startswith("Too many failed sign-ins for this username or from this address.")
    assert COOL_OFF - 5 <= int(response["Retry-After"]) <= COOL_OFF


# The token endpoint

def test_a_username_is_locked_out_after_five_failures_even_with_the_right_password(alice):
    codes = [token_attempt("alice", f"guess {n}").status_code for n in range(5)]
    assert codes == [400, 400, 400, 400, 429]
    assert_api_locked_out(token_attempt("alice", PASSWORD))


def test_rotating_addresses_does_not_reset_the_username_budget(alice):
    for n in range(5):
        token_attempt("alice", "guess", REMOTE_ADDR=f"198.51.100.{n}")
    assert_api_locked_out(token_attempt("alice", PASSWORD, REMOTE_ADDR="203.0.113.9"))
    # Another username is not locked out: its budget is its own.
    assert token_attempt("bob", "guess", REMOTE_ADDR="203.0.113.9").status_code == 400


def test_an_address_is_locked_out_after_twenty_failures_whatever_the_usernames(settings, alice):
    throttle_rates(settings, auth="100/minute")  # the rate limit in front would stop this at 10
    codes = [token_attempt(f"user{n}", "guess").status_code for n in range(20)]
    assert codes == [400] * 19 + [429]
    assert_api_locked_out(token_attempt("alice", PASSWORD))
    assert token_attempt("alice", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_an_ipv6_64_is_one_address(settings, alice):
    budgets(settings, per_address=3)
    for n, address in enumerate(["2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2:a:b:c:d"]):
        assert token_attempt(f"user{n}", "guess", REMOTE_ADDR=address).status_code in (400, 429)
    assert_api_locked_out(token_attempt("alice", PASSWORD, REMOTE_ADDR="2001:db8:1:2::77"))
    assert token_attempt("alice", PASSWORD, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200  # next /64


def test_a_forged_x_forwarded_for_changes_nothing(settings, alice):
    budgets(settings, per_address=3)
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    for n in range(3):
        token_attempt(f"user{n}", "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert_api_locked_out(token_attempt("alice", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200"))


def test_behind_one_proxy_the_address_it_appended_is_the_client(settings, alice):
    budgets(settings, per_address=3)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(3):  # the client forges the left part; our proxy appends what it saw
        token_attempt(f"user{n}", "guess", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 198.51.100.1")
    assert_api_locked_out(token_attempt("alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1"))
    assert token_attempt("alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


def test_the_cheap_rate_limit_in_front_still_counts_an_ipv6_64_as_one_address(settings, alice):
    throttle_rates(settings, auth="2/day")  # one window for the whole test
    codes = [token_attempt("alice", PASSWORD, REMOTE_ADDR=f"2001:db8:5:6::{n}").status_code for n in range(3)]
    assert codes == [200, 200, 429]


def test_a_locked_out_attempt_hashes_no_password(alice):
    for n in range(5):
        token_attempt("alice", f"guess {n}")
    with mock.patch.object(AbstractBaseUser, "check_password") as check_password:
        assert token_attempt("alice", PASSWORD).status_code == 429
        assert token_attempt("nobody", PASSWORD).status_code == 400  # others are not locked out
    assert check_password.call_count == 0


def test_a_successful_sign_in_clears_its_usernames_failures_only(settings, alice, make_user):
    budgets(settings, per_username=3, per_address=5)
    for _ in range(2):
        token_attempt("bob", "guess")
        token_attempt("alice", "guess")
    assert token_attempt("alice", PASSWORD).status_code == 200
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert AccessAttempt.objects.filter(username="bob").get().failures_since_start == 2
    # alice's budget is whole again; the address's still holds bob's two failures.
    assert [token_attempt("alice", "guess").status_code for _ in range(2)] == [400, 400]
    # bob's 2, alice's 2 new ones and this one: 5 from this address (3 had alice's success
    # cleared the address's failures, as axes' own reset does).
    assert_api_locked_out(token_attempt("carol", "guess"))


def test_the_budget_comes_back_after_the_cool_off(alice):
    for n in range(5):
        token_attempt("alice", f"guess {n}")
    assert token_attempt("alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert token_attempt("alice", PASSWORD).status_code == 200


def test_retry_after_is_when_the_budget_has_room_again(settings, alice):
    budgets(settings, per_address=3)
    token_attempt("bob", "guess", HTTP_USER_AGENT="first")  # rows per username, address, user agent
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    token_attempt("carol", "guess")
    response = token_attempt("dave", "guess")
    assert response.status_code == 429
    # bob's failure expires in 5 minutes: then the address is under its limit again.
    assert 5 * 60 - 5 <= int(response["Retry-After"]) <= 5 * 60


# Every password path shares the budgets

def test_the_admin_login_is_limited_with_a_429_page(staff_user):
    codes = [admin_attempt("root", f"guess {n}").status_code for n in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    response = admin_attempt("root", PASSWORD)
    assert response.status_code == 429
    assert 'id="locked-out"' in response.text
    assert "Too many failed sign-ins" in response.text and "Traceback" not in response.text
    assert COOL_OFF - 5 <= int(response["Retry-After"]) <= COOL_OFF
    assert "_auth_user_id" not in response.wsgi_request.session  # not signed in


def test_the_login_page_shows_its_form_with_a_429_and_how_long_to_wait(alice):
    client = Client()
    codes = [login_page_attempt("alice", f"guess {n}", client).status_code for n in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    response = login_page_attempt("alice", PASSWORD, client)
    assert response.status_code == 429
    assert 'id="login-locked-out"' in response.text and 'name="password"' in response.text
    assert "Too many failed sign-ins for this username or from your address" in response.text
    assert COOL_OFF - 5 <= int(response["Retry-After"]) <= COOL_OFF
    assert client.get(ME).status_code == 401


def test_the_three_paths_draw_on_one_username_budget(staff_user):
    assert token_attempt("root", "guess", REMOTE_ADDR="198.51.100.1").status_code == 400
    assert token_attempt("root", "guess", REMOTE_ADDR="198.51.100.2").status_code == 400
    assert login_page_attempt("root", "guess", REMOTE_ADDR="198.51.100.3").status_code == 200
    assert login_page_attempt("root", "guess", REMOTE_ADDR="198.51.100.4").status_code == 200
    assert admin_attempt("root", "guess", REMOTE_ADDR="198.51.100.5").status_code == 429
    assert admin_attempt("root", PASSWORD, REMOTE_ADDR="198.51.100.6").status_code == 429
    assert_api_locked_out(token_attempt("root", PASSWORD, REMOTE_ADDR="198.51.100.7"))
    assert login_page_attempt("root", PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 429


def test_the_three_paths_draw_on_one_address_budget(settings, staff_user):
    budgets(settings, per_address=3)
    assert token_attempt("a", "guess").status_code == 400
    assert login_page_attempt("b", "guess").status_code == 200
    assert admin_attempt("c", "guess").status_code == 429
    assert login_page_attempt("root", PASSWORD).status_code == 429


# Redis away

def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed when the block ends: nothing listens there


def test_with_redis_away_the_budgets_still_hold(settings, alice):
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
    }}
    cache.set("probe", 1)
    assert cache.get("probe") is None  # Redis is not there
    throttle_rates(settings, auth="2/minute")  # counted in Redis: it fails open
    codes = [token_attempt("alice", f"guess {n}").status_code for n in range(5)]
    assert codes == [400, 400, 400, 400, 429]  # past the rate limit, stopped by the budget
    assert_api_locked_out(token_attempt("alice", PASSWORD))
    assert login_page_attempt("alice", PASSWORD).status_code == 429


# The client's address, as every limit takes it

@pytest.mark.parametrize(("remote_addr", "expected"), [
    ("203.0.113.5", "203.0.113.5"),
    ("2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb::"),
    ("2001:DB8:AA:BB::9", "2001:db8:aa:bb::"),
    ("::ffff:203.0.113.5", "203.0.113.5"),  # IPv4 through a dual-stack socket
    ("not an address", None),
])
def test_client_address(rf, remote_addr, expected):
    assert client_address(rf.get("/", REMOTE_ADDR=remote_addr)) == expected


def test_client_address_behind_proxies(rf, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}
    request = rf.get("/", REMOTE_ADDR="10.0.0.2",
                     HTTP_X_FORWARDED_FOR="1.1.1.1, 2001:db8:7:7::5, 10.0.0.1")
    assert client_address(request) == "2001:db8:7:7::"
