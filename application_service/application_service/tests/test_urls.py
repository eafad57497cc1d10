"""The admin lives where ADMIN_URL says; admin/ is then nothing."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import clear_url_caches, reverse

from ops.testing import REPOSITORY

pytestmark = pytest.mark.django_db


def reload_urls() -> None:
    clear_url_caches()
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))


@contextmanager
def admin_at(path: str):
    """The URLs as a process started with ADMIN_URL=path builds them (urls.py reads it once)."""
    try:
        with override_settings(ADMIN_URL=path):
            reload_urls()
            yield
    finally:
        reload_urls()


def test_the_admin_moves_to_admin_url_and_admin_is_then_a_404(client, admin_client):
    with admin_at("staff-7f3a/"):
        assert reverse("admin:index") == "/staff-7f3a/"
        assert client.get("/admin/").status_code == 404
        assert client.get("/admin/login/").status_code == 404
        login = client.get("/staff-7f3a/")
        assert login.status_code == 302 and login["Location"] == "/staff-7f3a/login/?next=/staff-7f3a/"
        assert client.get("/staff-7f3a/login/").status_code == 200
        assert admin_client.get("/staff-7f3a/").status_code == 200
    assert reverse("admin:index") == "/admin/"  # the default, back for the other tests


def test_the_default_is_admin(client):
    assert settings.ADMIN_URL == "admin/"
    assert client.get("/admin/login/").status_code == 200


@pytest.mark.parametrize("value", ["/", "staff 7f3a", "a//b"])
def test_an_admin_url_that_is_no_path_stops_the_start(value):
    env = {key: item for key, item in os.environ.items() if key not in {"DJANGO_SETTINGS_MODULE", "CI"}}
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.ADMIN_URL"],
        cwd=REPOSITORY / "application_service", capture_output=True, text=True, timeout=60,
        env={**env, "APP_ENV": "local", "DJANGO_SETTINGS_MODULE": "application_service.environments.local",
             "ADMIN_URL": value},
    )
    assert result.returncode != 0
    assert "is not a path: write it as admin/ or staff-7f3a/" in result.stderr
