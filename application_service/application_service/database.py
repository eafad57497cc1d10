"""DATABASE_URL to Django's DATABASES entry, with MySQL configured the way it should be.

MySQL/MariaDB: utf8mb4 on the connection and on test databases, strict SQL mode, READ
COMMITTED, persistent connections with health checks (a connection that the server dropped,
after a restart for instance, is replaced before the request uses it instead of failing it),
and time limits on connecting and on each answer, so that a server that is down or hangs
fails a request within seconds instead of holding it (and its worker) until gunicorn's timeout.
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


def parse(url: str, *, conn_max_age: int = 60, connect_timeout: int = 5, read_timeout: int = 0) -> dict:
    """Return the DATABASES entry for `url`; a bad URL raises ConfigurationError.

    `read_timeout` (MySQL): seconds to wait for each answer of the server, and to send each
    query (0: no limit); a query running longer fails (the server may finish it regardless).
    """
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
            # A frozen server (hung, or gone behind a network that drops packets, as a failed-over
            # primary) answers nothing: without these, a query waits for it for hours.
            **({"read_timeout": read_timeout, "write_timeout": read_timeout} if read_timeout else {}),
            **config.get("OPTIONS", {}),
        }
        config["TEST"] = {"CHARSET": CHARSET, "COLLATION": COLLATION}
    return config


# The errors that say the server cannot be reached now (down, restarting, failing over, hung,
# full), not that a query is wrong: MySQL reports an unknown column as an OperationalError too.
UNREACHABLE_ERRORS = frozenset({
    1040,  # ER_CON_COUNT_ERROR: too many connections
    1053,  # ER_SERVER_SHUTDOWN: the server is shutting down
    1927,  # ER_CONNECTION_KILLED (MariaDB)
    2002,  # CR_CONNECTION_ERROR: no server on the socket
    2003,  # CR_CONN_HOST_ERROR: no server at the address (refused, or connect_timeout)
    2005,  # CR_UNKNOWN_HOST: the name does not resolve (DNS, mid-failover)
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST: lost mid-query, or no answer within read_timeout
    2055,  # CR_SERVER_LOST_EXTENDED
    4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8): the server closed an idle connection
})


def unreachable(exc: BaseException) -> bool:
    """True when `exc` (Django's database error) says the database cannot be reached now: the
    request may succeed later, unchanged. A closed connection (InterfaceError) is one too."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, InterfaceError):
        return True
    return isinstance(exc, OperationalError) and bool(exc.args) and exc.args[0] in UNREACHABLE_ERRORS


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
