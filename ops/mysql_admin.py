"""Create the environment's database with the right character set."""

from __future__ import annotations

from application_service import database
from ops.backing_services import database_config
from ops.envvars import Environment
from ops.errors import UserError


def create_statement(name: str) -> str:
    quoted = name.replace("`", "``")
    return (f"CREATE DATABASE IF NOT EXISTS `{quoted}` "
            f"CHARACTER SET {database.CHARSET} COLLATE {database.COLLATION}")


def create(environment: Environment) -> str:
    """Create the MySQL database named by DATABASE_URL when missing; return what happened."""
    config = database_config(environment)
    if config["ENGINE"] != database.MYSQL_ENGINE:
        return f"{config['NAME']}: SQLite creates its file on the first migrate; nothing to do."
    try:
        import MySQLdb
    except ImportError:
        raise UserError("The MySQL driver (mysqlclient) is not installed: install "
                        "libmariadb-dev and pkg-config, then run python3 bootstrap.py again.") from None
    try:
        connection = database.connect(config)
    except MySQLdb.Error as exc:
        raise UserError(f"Cannot connect to MySQL at {database.redact(environment.database_url)}: "
                        f"{exc}. Start it or fix DATABASE_URL (invoke wait-for waits for it).") from None
    try:
        with connection.cursor() as cursor:
            existed = cursor.execute(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [config["NAME"]])
            cursor.execute(create_statement(config["NAME"]))
    except MySQLdb.Error as exc:
        raise UserError(f"Creating database {config['NAME']!r} failed: {exc}. The user in "
                        f"DATABASE_URL needs the CREATE privilege.") from None
    finally:
        connection.close()
    state = "already exists" if existed else "created"
    return f"database {config['NAME']!r} {state} ({database.CHARSET}, {database.COLLATION})"
