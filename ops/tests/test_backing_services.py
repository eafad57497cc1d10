import io

import pytest

from ops import backing_services
from ops.envvars import resolve
from ops.errors import UserError
from ops.testing import FakeClock, free_port


def flaky(failures):
    calls = {"n": 0}

    def probe():
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ConnectionRefusedError("connection refused")

    return probe


def test_wait_for_returns_once_every_service_answers():
    clock = FakeClock()
    out = io.StringIO()
    backing_services.wait_for(
        [backing_services.Service("database", "mysql://h/d", flaky(3), "start it"),
         backing_services.Service("redis", "redis://h", flaky(0), "start it")],
        timeout=10, interval=1, out=out, clock=clock, sleep=clock.sleep,
    )
    assert clock.now == 3
    text = out.getvalue()
    assert "redis is up" in text and "database is up" in text
    assert "waiting for database ... 2s of 10s" in text


def test_wait_for_names_what_never_came_up_and_how_to_fix_it():
    clock = FakeClock()
    with pytest.raises(UserError) as error:
        backing_services.wait_for(
            [backing_services.Service("database", "mysql://h/d", flaky(99), "start MariaDB"),
             backing_services.Service("redis", "redis://h", flaky(0), "start Redis")],
            timeout=5, interval=1, out=io.StringIO(), clock=clock, sleep=clock.sleep,
        )
    message = str(error.value)
    assert "database (mysql://h/d) never came up within 5s" in message
    assert "ConnectionRefusedError: connection refused" in message
    assert "start MariaDB" in message
    assert "redis" not in message


def test_local_on_sqlite_needs_no_service():
    assert backing_services.required_services(resolve("local", {})) == []


def test_ci_needs_mysql_and_redis():
    with pytest.raises(UserError, match="needs MySQL"):
        backing_services.required_services(resolve("ci", {"DATABASE_URL": "sqlite:///x.db"}))
    with pytest.raises(UserError, match="needs Redis"):
        backing_services.required_services(resolve("ci", {"REDIS_URL": "", "DATABASE_URL": "mysql://u@h/d"}))
    names = [s.name for s in backing_services.required_services(resolve("ci", {}))]
    assert names == ["database", "redis"]


def test_service_urls_never_show_passwords():
    environment = resolve("ci", {"DATABASE_URL": "mysql://u:hunter2@127.0.0.1/d",
                                 "REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0"})
    assert all("hunter2" not in s.url for s in backing_services.required_services(environment))


def test_probes_fail_on_a_closed_port():
    port = free_port()
    environment = resolve("ci", {"DATABASE_URL": f"mysql://root@127.0.0.1:{port}/d",
                                 "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    for service in backing_services.required_services(environment):
        assert backing_services.check(service) is not None


def test_probes_succeed_against_the_real_services(mysql_url, redis_url):
    environment = resolve("ci", {"DATABASE_URL": mysql_url + "anything", "REDIS_URL": redis_url})
    required = backing_services.required_services(environment)
    assert [backing_services.check(service) for service in required] == [None, None]


def test_a_database_that_does_not_exist_is_named_with_the_task_that_creates_it(mysql_url):
    environment = resolve("local", {"DATABASE_URL": mysql_url + "little_service_never_created"})
    with pytest.raises(UserError) as error:
        backing_services.require_database(environment)
    assert str(error.value) == (
        f"The database 'little_service_never_created' does not exist "
        f"({mysql_url}little_service_never_created): run `invoke db.create` (it creates it, utf8mb4), "
        f"then run this again.")
    assert backing_services.missing_database(backing_services.database_config(
        resolve("local", {"DATABASE_URL": mysql_url + "mysql"}))) is None  # one that exists


def test_the_database_fix_fits_why_it_failed():
    from ops.backing_services import (
        ACCESS_DENIED_HINT,
        DATABASE_ACCESS_DENIED_HINT,
        Service,
        fix_for,
    )

    database = Service("database", "mysql://u:***@h/d", lambda: None, "start MySQL/MariaDB")
    refused = "OperationalError: (1045, \"Access denied for user 'u'@'h' (using password: YES)\")"
    assert fix_for(database, refused) == ACCESS_DENIED_HINT
    no_rights = "OperationalError: (1044, \"Access denied for user 'u'@'%' to database 'd'\")"
    assert fix_for(database, no_rights) == DATABASE_ACCESS_DENIED_HINT
    down = "OperationalError: (2002, \"Can't connect to server on 'h' (115)\")"
    assert fix_for(database, down) == "start MySQL/MariaDB"
    redis = Service("redis", "redis://h:6379/0", lambda: None, "start Redis")
    assert fix_for(redis, refused) == "start Redis"
