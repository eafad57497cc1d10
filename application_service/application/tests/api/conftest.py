"""API test fixtures: clients for anonymous, author, other user and staff; an isolated cache."""

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


def throttle_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


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


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client
