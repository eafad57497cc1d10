"""The service's test fixtures: users (author, other, staff), an anonymous API client, an isolated cache.

The fixtures every test shares (MySQL, Redis, ci's skip-is-a-failure) are in the repository's conftest.py.
"""

from __future__ import annotations

import copy
import uuid

import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def isolated_cache(settings):
    """Throttle counts of this test only, also on the shared Redis of ci (no flush needed)."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, **fields):
        return django_user_model.objects.create_user(username=username, **fields)

    return make


@pytest.fixture
def author(make_user):
    return make_user("author")


@pytest.fixture
def other(make_user):
    return make_user("other")


@pytest.fixture
def staff(make_user):
    return make_user("staff", is_staff=True)


@pytest.fixture
def anonymous():
    return APIClient()
