"""Request limits counted in the shared cache (Redis in ci and production), atomically.

DRF's throttles keep a list of timestamps that they read, change and write back: concurrent
requests on several workers read the same list and all pass. These count with one atomic
INCR per request in fixed windows, so N workers share one limit, exactly. Anonymous clients
are keyed on their address (client_address below, which the sign-in budgets of django-axes key
on too). Rates are read when a request arrives, so settings changes apply at once.
"""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

IPV6_CLIENT_PREFIX = 64  # one subscriber's network: its addresses are free to rotate through


def client_address(request) -> str | None:
    """The client's address as every limit counts it (AXES_CLIENT_IP_CALLABLE too), or None.

    DRF's get_ident finds it: REMOTE_ADDR, or with NUM_PROXIES set the address the outermost of
    our proxies appended to X-Forwarded-For, so a forged header changes nothing. An IPv6 address
    stands for its /64 (written as the network's first address), since a single host commonly
    holds a whole /64; an IPv4 address mapped into IPv6 is the IPv4 address. None when what was
    found is not an address (a forged entry, read when NUM_PROXIES counts more proxies than
    there are).
    """
    found = BaseThrottle().get_ident(request)
    try:
        address = ipaddress.ip_address((found or "").strip())
    except ValueError:
        return None
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False).network_address)
    return str(address)


class WindowThrottle(SimpleRateThrottle):
    """At most num_requests per duration, counted per fixed window of that duration."""

    def __init__(self) -> None:
        """Nothing to read yet: allow_request reads the rate of each request."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        count = self.count(f"{self.key}:{window}", timeout=self.duration + 1)
        # None: the cache is down; fail open, as the cache does (django-redis IGNORE_EXCEPTIONS).
        return count is None or count <= self.num_requests

    def count(self, key: str, *, timeout: int) -> int | None:
        """Add one to the window's count and return it (None when the cache is down)."""
        alias = DEFAULT_CACHE_ALIAS
        cache = caches[alias]  # the throttle's, as the settings say now
        if settings.CACHES[alias]["BACKEND"].startswith("django_redis."):
            # Redis: one INCR per request (the throttle runs on every one); the window's first
            # also sets its expiry. (A script or MULTI would make the pair atomic, at a third more
            # time per request; a process dying between the two leaves one stale window's key.)
            full_key = cache.make_key(key)
            try:
                client = get_redis_connection(alias)
                count = client.incr(full_key)
                if count == 1:
                    client.expire(full_key, timeout)
                return count
            except RedisError:
                return None
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # the key expired between add and incr: this is the window's first
            cache.add(key, 1, timeout=timeout)
            return 1

    def wait(self) -> float:
        return max(1, math.ceil(self.window_ends - self.now))

    def get_ident(self, request) -> str:
        return client_address(request) or super().get_ident(request)


class AnonThrottle(WindowThrottle):
    """Anonymous clients, per address."""

    scope = "anon"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(WindowThrottle):
    """Authenticated clients, per user."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AuthThrottle(WindowThrottle):
    """Password attempts, per address whoever is signed in: guessing is slow."""

    scope = "auth"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
