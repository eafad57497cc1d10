"""The backing services an environment needs, probed over real connections."""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from application_service import database
from application_service.environments import ConfigurationError, check_redis_url
from ops.envvars import Environment, resolve
from ops.errors import UserError
from ops.waiting import poll

CREATE_HINT = "run `invoke db.create` (it creates it, utf8mb4)"
# MySQL's answers to a wrong user or password (ER_ACCESS_DENIED_ERROR) and to a user without
# rights on the database (ER_DBACCESS_DENIED_ERROR): the server is up, so starting it is not the fix.
ACCESS_DENIED, DATABASE_ACCESS_DENIED = 1045, 1044
ACCESS_DENIED_HINT = ("check the user and password in DATABASE_URL: the server answered and "
                      "refused them")
DATABASE_ACCESS_DENIED_HINT = ("the user in DATABASE_URL has no rights on its database: grant them "
                               "(GRANT ALL ON name.* TO 'user'@'%') or name a user that has them")


@dataclass(frozen=True)
class Service:
    name: str
    url: str  # for messages: passwords redacted
    probe: Callable[[], None]  # raises when the service does not accept connections
    hint: str


def database_config(environment: Environment) -> dict:
    try:
        return database.parse(environment.database_url)
    except ConfigurationError as exc:
        raise UserError(str(exc)) from None


def probe_mysql(config: dict, timeout: float = 2.0) -> None:
    if importlib.util.find_spec("MySQLdb") is None:
        # The driver is optional locally; a TCP accept is the next best proof.
        with socket.create_connection(database.address(config), timeout=timeout):
            return
    database.connect(config, timeout=timeout).close()


UNKNOWN_DATABASE = 1049  # MySQL's and MariaDB's ER_BAD_DB_ERROR


def missing_database(config: dict, timeout: float = 2.0) -> str | None:
    """Why the database of a reachable MySQL server cannot be used, or None when it can: the one
    case a server probe does not see is a database that does not exist yet."""
    if importlib.util.find_spec("MySQLdb") is None:
        return None  # the driver is optional locally; migrate says what is missing then
    import MySQLdb

    try:
        database.connect(config, with_name=True, timeout=timeout).close()
    except MySQLdb.OperationalError as exc:
        if exc.args and exc.args[0] == UNKNOWN_DATABASE:
            return f"the database {config['NAME']!r} does not exist"
        return f"{type(exc).__name__}: {exc}"
    return None


def probe_redis(url: str, timeout: float = 2.0) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def required_services(environment: Environment) -> list[Service]:
    """The services this environment is configured to use (SQLite and local memory need none)."""
    services = []
    config = database_config(environment)
    if config["ENGINE"] == database.MYSQL_ENGINE:
        services.append(Service(
            "database", database.redact(environment.database_url),
            lambda: probe_mysql(config),
            "start MySQL/MariaDB (or fix the host and port in DATABASE_URL); on this kind of "
            "machine: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
        ))
    elif environment.strict and not database.url_from_environment(environment.variables):
        raise UserError(f"The {environment.name} environment needs MySQL, but DATABASE_URL is not "
                        f"set; set it to mysql://user:password@host:3306/name.")
    elif environment.strict:
        raise UserError(f"The {environment.name} environment needs MySQL, but DATABASE_URL is "
                        f"{database.redact(environment.database_url)!r}; point it at MySQL.")
    if environment.redis_url:
        try:
            url = check_redis_url(environment.redis_url)
        except ConfigurationError as exc:
            raise UserError(str(exc)) from None
        services.append(Service(
            "redis", database.redact(url), lambda: probe_redis(url),
            "start Redis (or fix REDIS_URL): redis-server --daemonize yes --port 6379",
        ))
    elif environment.strict:
        raise UserError(f"The {environment.name} environment needs Redis, but REDIS_URL is not "
                        f"set; point it at Redis (redis://127.0.0.1:6379/0).")
    return services


def redis_problem(environment: Environment) -> str | None:
    """Why the environment's Redis does not answer, or None when it does (or none is set)."""
    for service in required_services(environment):
        if service.name == "redis":
            return check(service)
    return None


def django_environment(name: str | None, *, database: bool = False) -> Environment:
    """The environment `name`, checked far enough that Django will start: its required settings,
    a readable DATABASE_URL, and with `database` a reachable database (a command that needs one
    then fails with a message, not with a driver's traceback)."""
    environment = resolve(name)
    environment.require()
    database_config(environment)
    if database:
        require_database(environment)
    return environment


def require_database(environment: Environment) -> None:
    """UserError naming the database and the fix when it does not accept connections, or when the
    server does but the database does not exist yet."""
    for service in required_services(environment):
        if service.name != "database":
            continue
        if error := check(service):
            fix = fix_for(service, error)
            if fix != service.hint:
                raise UserError(f"The database ({service.url}) refused the connection: {error}. "
                                f"{fix[0].upper()}{fix[1:]}.")
            raise UserError(f"The database ({service.url}) is not reachable: {error}. "
                            f"{fix[0].upper()}{fix[1:]}; `invoke wait-for` waits for it to come up.")
        if problem := missing_database(database_config(environment)):
            raise UserError(f"{problem[0].upper()}{problem[1:]} ({service.url}): "
                            f"{CREATE_HINT}, then run this again.")


def check(service: Service) -> str | None:
    """None when the service accepts a connection, else why not."""
    try:
        service.probe()
    except Exception as exc:  # each driver raises its own errors; all mean "not up"
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def fix_for(service: Service, error: str) -> str:
    """The fix that fits why `service` failed: a refused password is not a stopped server."""
    if service.name == "database" and f"({ACCESS_DENIED}," in error:
        return ACCESS_DENIED_HINT
    if service.name == "database" and f"({DATABASE_ACCESS_DENIED}," in error:
        return DATABASE_ACCESS_DENIED_HINT
    return service.hint


def wait_for(services: list[Service], *, timeout: float, interval: float = 0.5,
             out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait until every service accepts connections, with a progress line; UserError on timeout."""
    waiting = {service.name: service for service in services}
    errors: dict[str, str] = {}

    def all_up() -> bool:
        for name, service in list(waiting.items()):
            error = check(service)
            if error is None:
                del waiting[name]
                out.write(f"\r{name} is up ({service.url})".ljust(72) + "\n")
            else:
                errors[name] = error
        return not waiting

    def progress(elapsed: float) -> None:
        out.write(f"\rwaiting for {', '.join(waiting)} ... {elapsed:.0f}s of {timeout:g}s")
        out.flush()

    finished, _ = poll(all_up, done=bool, timeout=timeout, interval=interval, on_wait=progress,
                       clock=clock, sleep=sleep)
    if not finished:
        out.write("\n")
        raise UserError(" ".join(
            f"{name} ({service.url}) never came up within {timeout:g}s: {errors[name]}; "
            f"{fix_for(service, errors[name])}." for name, service in waiting.items()
        ))
    out.flush()
