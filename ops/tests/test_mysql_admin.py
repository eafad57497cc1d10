import uuid

import pytest

from ops import mysql_admin
from ops.envvars import resolve
from ops.errors import UserError
from ops.testing import free_port


def test_create_statement_quotes_the_name():
    assert mysql_admin.create_statement("a`b") == (
        "CREATE DATABASE IF NOT EXISTS `a``b` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")


def test_sqlite_needs_nothing():
    assert "nothing to do" in mysql_admin.create(resolve("local", {"DATABASE_URL": "sqlite:////tmp/x.db"}))


def test_unreachable_server_is_a_clear_error():
    port = free_port()
    with pytest.raises(UserError, match=rf"Cannot connect to MySQL at mysql://root@127.0.0.1:{port}/d"):
        mysql_admin.create(resolve("local", {"DATABASE_URL": f"mysql://root@127.0.0.1:{port}/d"}))


def test_creates_a_utf8mb4_database_once(mysql_url):
    from ops.testing import mysql_admin_connection

    name = f"little_service_create_{uuid.uuid4().hex[:8]}"
    environment = resolve("local", {"DATABASE_URL": mysql_url + name})
    try:
        assert mysql_admin.create(environment) == f"database '{name}' created (utf8mb4, utf8mb4_unicode_ci)"
        assert "already exists" in mysql_admin.create(environment)
        connection = mysql_admin_connection(mysql_url)
        cursor = connection.cursor()
        cursor.execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                       "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name])
        assert cursor.fetchone() == ("utf8mb4", "utf8mb4_unicode_ci")
    finally:
        connection = mysql_admin_connection(mysql_url)
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()
