"""MySQL done right: utf8mb4, strict mode, READ COMMITTED. Runs on MySQL (ci); skips on SQLite."""

import pytest
from django.db import DataError, connection, transaction

from application.models import Counter

pytestmark = [pytest.mark.django_db, pytest.mark.mysql, pytest.mark.usefixtures("require_mysql")]


def fetch(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_emoji_survives_a_round_trip():
    name = "héllo 👋 🐍 𝄞"
    Counter.objects.create(name=name, value=7)
    assert Counter.objects.get(name=name).name == name
    assert fetch("SELECT name FROM application_counter WHERE value = 7") == (name,)


def test_connection_and_tables_are_utf8mb4():
    assert fetch("SELECT @@character_set_connection, @@collation_connection") == (
        "utf8mb4", "utf8mb4_unicode_ci")
    (collation,) = fetch("SELECT TABLE_COLLATION FROM information_schema.TABLES "
                         "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'application_counter'")
    assert collation.startswith("utf8mb4")


def test_strict_mode_refuses_to_truncate():
    assert "STRICT_TRANS_TABLES" in fetch("SELECT @@SESSION.sql_mode")[0]
    with pytest.raises(DataError), transaction.atomic():
        Counter.objects.create(name="x" * 65)


def test_read_committed():
    (level,) = fetch("SELECT @@SESSION.tx_isolation")
    assert level == "READ-COMMITTED"
