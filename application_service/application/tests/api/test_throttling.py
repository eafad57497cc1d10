"""Limits per client, counted in the shared cache, keyed on the real address."""

from __future__ import annotations

import socket
import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from ops.testing import client_for, throttle_rates

pytestmark = pytest.mark.django_db

COUNTER = "/api/v1/counter/"


def statuses(client: APIClient, count: int, **headers) -> list[int]:
    return [client.get(COUNTER, **headers).status_code for _ in range(count)]


def test_anonymous_clients_get_429_with_retry_after(settings, anonymous):
    throttle_rates(settings, anon="3/minute")
    assert statuses(anonymous, 3) == [200, 200, 200]
    response = anonymous.get(COUNTER)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["message"].startswith("Request was throttled.")


def test_a_forged_x_forwarded_for_does_not_reset_the_limit(settings, anonymous):
    throttle_rates(settings, anon="3/minute")
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    codes = [anonymous.get(COUNTER, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_behind_one_proxy_the_proxy_given_address_is_the_client(settings):
    throttle_rates(settings, anon="2/minute")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    # The client forges the left part; our proxy appends the address it saw (the last entry).
    first = [client.get(COUNTER, HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 198.51.100.1").status_code
             for n in range(3)]
    assert first == [200, 200, 429]
    assert client.get(COUNTER, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


def test_authenticated_users_are_limited_per_user_not_per_address(settings, make_user):
    throttle_rates(settings, anon="1/minute", user="2/minute")
    alice, bob = client_for(make_user("alice")), client_for(make_user("bob"))
    assert statuses(alice, 3) == [200, 200, 429]
    assert statuses(bob, 2) == [200, 200]  # same address, own budget


def test_counts_live_in_the_configured_cache(settings, anonymous):
    """In ci and production that cache is Redis, shared by every worker process."""
    throttle_rates(settings, anon="5/minute")
    statuses(anonymous, 2)
    keys = [key for key in cache_keys() if "throttle_anon_127.0.0.1" in key]
    assert len(keys) == 1
    assert cache.get(keys[0].split(":", 2)[-1]) == 2


def cache_keys() -> list[str]:
    """This test's keys in the cache server (Redis) or the process's local memory."""
    prefix = cache.make_key("")
    if settings_backend().startswith("django_redis"):
        client = cache.client.get_client()
        return [key.decode() for key in client.scan_iter(match=f"{prefix}*")]
    return [key for key in cache._cache if key.startswith(prefix)]


def settings_backend() -> str:
    from django.conf import settings

    return settings.CACHES["default"]["BACKEND"]


def test_an_unavailable_rate_means_no_limit(settings, anonymous):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.pop("anon")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert set(statuses(anonymous, 5)) == {200}


@pytest.mark.parametrize("rate", ["lots", "10/fortnight", "/minute", "-1/s"])
def test_a_bad_rate_stops_the_service_at_startup(monkeypatch, rate):
    from application_service.environments import ConfigurationError
    from application_service.environments.base import env_rate

    monkeypatch.setenv("THROTTLE_ANON_RATE", rate)
    with pytest.raises(ConfigurationError, match="THROTTLE_ANON_RATE"):
        env_rate("THROTTLE_ANON_RATE", "1/s")


def redis_cache(settings, location: str) -> None:
    """The default cache on the Redis at `location`, as ci and production configure it."""
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": location,
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
    }}


def test_a_redis_window_count_expires_with_its_window(settings, anonymous, redis_url):
    redis_cache(settings, redis_url)
    throttle_rates(settings, anon="3/hour")
    assert statuses(anonymous, 4) == [200, 200, 200, 429]
    [key] = cache_keys()
    client = cache.client.get_client()
    assert client.get(key) == b"4"
    assert 0 < client.ttl(key) <= 3601  # a count never outlives its window (plus a second)


def test_an_unreachable_redis_lets_requests_through(settings, anonymous):
    """Fail open, as the cache does: an outage of the throttle's store is not an API outage."""
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        redis_cache(settings, f"redis://127.0.0.1:{closed.getsockname()[1]}/0")
        throttle_rates(settings, anon="1/hour")
        assert statuses(anonymous, 3) == [200, 200, 200]
