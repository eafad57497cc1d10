"""MySQL done right: utf8mb4, strict mode, READ COMMITTED. Runs on MySQL (ci); skips on SQLite."""

import pytest
from django.db import DataError, connection, transaction

from application.models import Counter
from ops.testing import mysql_admin_connection

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


@pytest.mark.django_db(transaction=True)
def test_read_committed(mysql_url):
    """Behaviour, not a variable (MySQL 8 names it transaction_isolation, MariaDB 10.11 tx_isolation):
    inside one transaction, a second read sees what another connection committed meanwhile."""
    Counter.objects.create(name="isolation", value=1)
    other = mysql_admin_connection(mysql_url)
    try:
        with transaction.atomic():
            assert Counter.objects.get(name="isolation").value == 1
            other.cursor().execute(f"UPDATE `{connection.settings_dict['NAME']}`.application_counter "
                                   "SET value = 2 WHERE name = 'isolation'")
            assert Counter.objects.get(name="isolation").value == 2  # REPEATABLE READ would say 1
    finally:
        other.close()
