"""API tokens at rest: only hashes are stored, the admin shows no key, a changed password revokes
them all, an operator issues one from the command line, and DRF's plain-text tokens moved over."""

from __future__ import annotations

import importlib
import io
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import services

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"
PASSWORD = "a long enough test password"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


def works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(ME).status_code == 200


def keys_of(user, count: int = 2) -> list[str]:
    return [services.auth_token_create(user=user)[1] for _ in range(count)]


# A changed password revokes every token, whatever path changed it

def test_set_password_then_save_revokes_every_token(alice, make_user):
    keys, others = keys_of(alice), keys_of(make_user("bob"))
    alice.set_password("another long password")
    alice.save()
    assert not any(works(key) for key in keys)
    assert all(works(key) for key in others)


def test_changepassword_revokes_every_token(alice):
    keys = keys_of(alice)
    with mock.patch("django.contrib.auth.management.commands.changepassword.getpass.getpass",
                    return_value="another long password"):
        call_command("changepassword", "alice", stdout=io.StringIO())
    assert not any(works(key) for key in keys)


def test_the_admins_password_form_revokes_every_token(admin_client, alice):
    keys = keys_of(alice)
    url = reverse("admin:auth_user_password_change", args=[alice.pk])  # UserAdmin's name for it
    new = "another long password"
    response = admin_client.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302, response.content
    assert not any(works(key) for key in keys)


@pytest.mark.parametrize("change", [
    lambda user: setattr(user, "password", make_password("written directly")),
    lambda user: user.set_unusable_password(),
])
def test_any_new_hash_revokes_every_token(alice, change):
    keys = keys_of(alice)
    change(alice)
    alice.save(update_fields=["password"])
    assert not any(works(key) for key in keys)


def test_saves_that_leave_the_password_keep_the_tokens(alice):
    keys = keys_of(alice)
    alice.first_name = "Alice"
    alice.save()
    alice.save(update_fields=["last_login"])
    assert all(works(key) for key in keys)


def test_a_hash_upgrade_at_sign_in_keeps_the_tokens(settings, django_user_model):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = django_user_model.objects.create_user(username="carol", password=PASSWORD)
    keys = keys_of(user)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    assert authenticate(HttpRequest(), username="carol", password=PASSWORD) is not None
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")  # Django re-hashed and saved it
    assert all(works(key) for key in keys)


# At rest and in the admin

def test_the_admin_never_shows_a_key(admin_client, alice):
    token, key = services.auth_token_create(user=alice)
    listing = admin_client.get(reverse("admin:knox_authtoken_changelist"))
    assert listing.status_code == 200 and "alice" in listing.text
    page = admin_client.get(reverse("admin:knox_authtoken_change", args=[token.pk]))
    assert page.status_code == 200
    for response in (listing, page):
        assert key not in response.text
    assert not apps.is_installed("rest_framework.authtoken")  # its admin listed the keys


# An operator's token

def test_an_operator_issues_a_token_from_the_command_line(alice):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "alice", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert works(key)
    assert "shown only this once" in err.getvalue() and key not in err.getvalue()
    with pytest.raises(CommandError, match="No user is named 'nobody'"):
        call_command("create_api_token", "nobody", stdout=io.StringIO(), stderr=io.StringIO())


# From DRF's authtoken: accounts.0002 moves the keys over and drops the plain-text table

LEGACY_KEY = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def legacy_tokens(alice):
    """The table DRF's authtoken left, with alice's key in it, its migration record and content type."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quote('authtoken_token')} ({quote('key')} varchar(40) PRIMARY KEY, "
                       f"{quote('created')} datetime(6) NOT NULL, {quote('user_id')} bigint NOT NULL)")
        cursor.execute(f"INSERT INTO {quote('authtoken_token')} VALUES (%s, %s, %s)",
                       [LEGACY_KEY, datetime(2024, 5, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None), alice.pk])
    MigrationRecorder.Migration.objects.create(app="authtoken", name="0004_alter_tokenproxy_options")
    ContentType.objects.create(app_label="authtoken", model="token")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {quote('authtoken_token')}")


@pytest.mark.django_db(transaction=True)
def test_drf_tokens_become_knox_tokens_and_the_plain_text_table_goes(legacy_tokens, alice):
    assert not works(LEGACY_KEY)
    migration = importlib.import_module("accounts.migrations.0002_api_tokens_to_knox")
    with connection.schema_editor() as schema_editor:
        migration.move_tokens_to_knox(apps, schema_editor)

    assert works(LEGACY_KEY)  # its client keeps working...
    token = AuthToken.objects.get(user=alice)
    assert token.digest != LEGACY_KEY and token.token_key == LEGACY_KEY[:15]
    assert token.created == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert abs(token.expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)  # ...until then
    assert "authtoken_token" not in connection.introspection.table_names()
    assert not MigrationRecorder.Migration.objects.filter(app="authtoken").exists()
    assert not ContentType.objects.filter(app_label="authtoken").exists()


@pytest.mark.django_db(transaction=True)
def test_a_database_without_drf_tokens_has_nothing_to_move(alice):
    migration = importlib.import_module("accounts.migrations.0002_api_tokens_to_knox")
    with connection.schema_editor() as schema_editor:
        migration.move_tokens_to_knox(apps, schema_editor)
    assert not AuthToken.objects.exists()
