"""DATABASE_URL to Django's DATABASES entry, with MySQL configured the way it should be.

MySQL/MariaDB: utf8mb4 on the connection and on test databases, strict SQL mode, READ
COMMITTED, persistent connections with health checks (a connection that the server dropped,
after a restart for instance, is replaced before the request uses it instead of failing it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

import dj_database_url

from application_service.environments import ConfigurationError

MYSQL_ENGINE = "django.db.backends.mysql"
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_unicode_ci"
SUPPORTED = ("sqlite", "mysql")


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def url_from_environment(environ: Mapping[str, str]) -> str:
    """DATABASE_URL; else the URL of its parts, as AWS hands them over: DB_HOST, DB_PORT (3306),
    DB_NAME, and DB_CREDENTIALS, the JSON of the RDS-managed master secret ({"username": ...,
    "password": ...}), or DB_USER and DB_PASSWORD. Empty when neither is set."""
    if environ.get("DATABASE_URL"):
        return environ["DATABASE_URL"]
    host = environ.get("DB_HOST", "")
    if not host:
        return ""
    user, password = environ.get("DB_USER", ""), environ.get("DB_PASSWORD", "")
    if environ.get("DB_CREDENTIALS"):
        try:
            credentials = json.loads(environ["DB_CREDENTIALS"])
            user, password = credentials["username"], credentials["password"]
        except (ValueError, TypeError, KeyError):
            raise ConfigurationError(
                "DB_CREDENTIALS is not the JSON of a database secret: it must hold \"username\" "
                "and \"password\" (RDS's managed master secret does).") from None
    login = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return (f"mysql://{login}{'@' if login else ''}{host}:{environ.get('DB_PORT') or 3306}"
            f"/{environ.get('DB_NAME', '')}")


def parse(url: str, *, conn_max_age: int = 60, connect_timeout: int = 5) -> dict:
    """Return the DATABASES entry for `url`; a bad URL raises ConfigurationError."""
    scheme = urlsplit(url).scheme
    if scheme.split("+")[0] not in SUPPORTED:
        raise ConfigurationError(
            f"DATABASE_URL {redact(url)!r} is not supported: use sqlite:///path/to/db.sqlite3 "
            f"or mysql://user:password@host:3306/name."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    except ValueError as exc:
        raise ConfigurationError(f"DATABASE_URL {redact(url)!r} cannot be read: {exc}") from None
    if config["ENGINE"] == MYSQL_ENGINE:
        if not config.get("NAME"):
            raise ConfigurationError(
                f"DATABASE_URL {redact(url)!r} names no database: add it after the host, "
                f"as in mysql://user@127.0.0.1:3306/little_service."
            )
        config["OPTIONS"] = {
            "charset": CHARSET,
            "collation": COLLATION,
            "isolation_level": "read committed",
            "init_command": "SET sql_mode='TRADITIONAL'",
            "connect_timeout": connect_timeout,
            **config.get("OPTIONS", {}),
        }
        config["TEST"] = {"CHARSET": CHARSET, "COLLATION": COLLATION}
    return config


def address(config: dict) -> tuple[str, int]:
    """The (host, port) of a MySQL DATABASES entry, with MySQL's defaults filled in."""
    return config["HOST"] or "127.0.0.1", int(config["PORT"] or 3306)


def connect(config: dict, *, with_name: bool = False, timeout: float = 5, **options):
    """A MySQLdb connection to the server of a DATABASES entry (to its database with `with_name`),
    for work outside Django: probes, creating databases, tests and the bench."""
    import MySQLdb

    host, port = address(config)
    if with_name and config["NAME"]:
        options["database"] = config["NAME"]
    return MySQLdb.connect(host=host, port=port, user=config["USER"] or "root",
                           passwd=config["PASSWORD"] or "", connect_timeout=max(1, int(timeout)),
                           **options)
