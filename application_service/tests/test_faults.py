"""Faults under load, on real processes: a steady load from a second process (ops.testing.Load)
while MySQL crashes or hangs, Redis stops, or a worker is killed; each answer's status and time
recorded, then what the service owes its clients checked:

- answers come within seconds, whatever fails (no hang);
- a database out of reach is a 503 with Retry-After, only while it is, and the service recovers
  by itself (the same gunicorn workers), with no counter increment that was answered 200 lost
  or counted twice;
- Redis away: pages and the API keep answering, and every message accepted is processed once it
  is back (beat's sweep publishes what the broker could not take);
- a worker killed mid-jobs: every accepted message is processed, exactly once.

Celery's own bug (a worker running a job when Redis goes away exits) has its expected failure here.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import time
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest
import test_celery
from django.db import DataError, InterfaceError, OperationalError, ProgrammingError
from test_celery import PASSWORD, WORKER_READY, create_message, token_for

from application_service import database
from application_service.api.exceptions import server_error
from application_service.logs import request_fields
from application_service.unavailable import DatabaseUnavailableMiddleware
from ops.testing import (
    Answer,
    Load,
    Supervised,
    eventually,
    free_port,
    invoke,
    kill,
    mariadb_server,
    mysql_admin_connection,
    redis_server,
    running,
    serving,
    stop,
)

# test_celery's fixtures: a user of the service database, and that database with keys of the test's
# own on the shared Redis.
api_user = test_celery.api_user
stack_env = test_celery.stack_env

# No answer may take longer than this (generous: the tests share a small machine's CPU).
SLOW_SECONDS = 10
COUNT = re.compile(r'<p id="count">(\d+)</p>')


# What counts as the database being out of reach

@pytest.mark.parametrize("error", [
    OperationalError(2003, "Can't connect to server on '127.0.0.1' (111)"),
    OperationalError(2013, "Lost connection to server during query"),
    OperationalError(2006, "Server has gone away"),
    OperationalError(1053, "Server shutdown in progress"),
    InterfaceError(0, ""),
])
def test_errors_of_a_database_out_of_reach_are_unreachable(error):
    assert database.unreachable(error)


@pytest.mark.parametrize("error", [
    OperationalError(1054, "Unknown column 'x' in 'field list'"),  # a bug, not an outage
    OperationalError("no such table: x"),  # SQLite
    ProgrammingError(1064, "You have an error in your SQL syntax"),
    DataError(1406, "Data too long for column 'text'"),
    ValueError(2003),
])
def test_errors_of_a_wrong_query_are_not_unreachable(error):
    assert not database.unreachable(error)


def test_mysql_waits_for_answers_as_long_as_read_timeout_and_forever_with_0():
    options = database.parse("mysql://u@h:3306/d", read_timeout=7)["OPTIONS"]
    assert (options["read_timeout"], options["write_timeout"], options["connect_timeout"]) == (7, 7, 5)
    assert "read_timeout" not in database.parse("mysql://u@h:3306/d")["OPTIONS"]


OUT_OF_REACH = OperationalError(2003, "Can't connect to server on '10.0.0.9' (115)")


@pytest.mark.parametrize(("path", "content_type"), [("/", "text/html"),
                                                   ("/api/v1/messages/", "application/json")])
def test_a_view_that_cannot_reach_the_database_answers_503(rf, path, content_type):
    request = rf.get(path)
    response = DatabaseUnavailableMiddleware(lambda request: None).process_exception(request, OUT_OF_REACH)
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response["Content-Type"].startswith(content_type)
    assert request_fields(request) == {"reason": "database_unreachable",  # on the request's log line
                                       "error": f"OperationalError: {OUT_OF_REACH}"}


def test_a_wrong_query_is_left_to_django_s_500(rf):
    wrong = OperationalError(1054, "Unknown column 'x' in 'field list'")
    assert DatabaseUnavailableMiddleware(lambda request: None).process_exception(rf.get("/"), wrong) is None


def test_a_database_out_of_reach_outside_any_view_is_a_503_too(rf):
    """handler500 (a middleware's error: Django calls the handler while handling it)."""
    try:
        raise OUT_OF_REACH
    except OperationalError:
        page, api = server_error(rf.get("/")), server_error(rf.get("/api/v1/messages/"))
    assert (page.status_code, api.status_code, api["Retry-After"]) == (503, 503, "5")
    assert json.loads(api.content)["code"] == "service_unavailable"
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(rf.get("/")).status_code == 500


# The load and its answers

@dataclass
class Fault:
    """When the fault began and ended (wall clock, as Answer.sent)."""

    began: float
    ended: float = 0.0

    def overlaps(self, answer: Answer) -> bool:
        """The request was in flight while the part was failing."""
        return answer.sent <= self.ended and answer.sent + answer.seconds >= self.began


def described(answers: list[Answer]) -> str:
    return "\n".join(f"{a.sent:.2f} +{a.seconds:.2f}s {a.name} {a.status} {a.error}" for a in answers)


def assert_answered_in_time(answers: list[Answer]) -> None:
    late = [a for a in answers if a.status is None or a.seconds > SLOW_SECONDS]
    assert not late, f"no answer or slower than {SLOW_SECONDS}s:\n{described(late)}"


def page(name: str = "page") -> dict:
    return {"name": name, "path": "/"}


def api_list(token: str) -> dict:
    return {"name": "list", "path": "/api/v1/messages/?status=processed", "token": token}


def api_create(token: str) -> dict:
    return {"name": "create", "method": "POST", "path": "/api/v1/messages/", "token": token,
            "json": {"text": "under load {n}"}}


def query(server_url: str, sql: str, parameters=()) -> tuple:
    connection = mysql_admin_connection(server_url)
    try:
        cursor = connection.cursor()
        cursor.execute(sql, parameters)
        return cursor.fetchone()
    finally:
        connection.close()


# MySQL crashes, or hangs, and comes back

@pytest.fixture(scope="module")
def own_mysql(tmp_path_factory, redis_url):
    """A MariaDB server of this module's own, with the service's database migrated in it, to
    crash and freeze; yields (the server, the environment of the processes that use it)."""
    with mariadb_server(tmp_path_factory.mktemp("mariadb")) as server:
        env = {**os.environ, "DATABASE_URL": server.url + "little_service", "REDIS_URL": redis_url,
               "CELERY_KEY_PREFIX": f"faults-{uuid.uuid4().hex[:8]}:"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        invoke("db.create", env=env, check=True)
        invoke("migrate", env=env, check=True)
        username = "loader"
        invoke("createsuperuser", "--username", username, "--email", f"{username}@example.com",
               env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, check=True)
        yield server, env, username


def hello_count(server_url: str) -> int:
    row = query(server_url, "SELECT value FROM little_service.application_counter WHERE name = 'hello'")
    return row[0] if row else 0


def assert_unavailable_answers(answers: list[Answer]) -> None:
    """503 with Retry-After: the API's error shape under /api/, a short HTML page elsewhere."""
    for answer in answers:
        assert answer.retry_after == "5", answer
        if answer.name == "list":
            assert answer.content_type == "application/json", answer
            assert json.loads(answer.body) == {
                "code": "service_unavailable",
                "message": "The service is briefly unavailable; try again in a few seconds."}
        else:
            assert answer.content_type.startswith("text/html"), answer
            assert "Service unavailable" in answer.body and len(answer.body) < 500, answer


def log_lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def assert_one_line_each(log: str, refused: list[Answer]) -> None:
    """Each refusal is one line, the request's, which names the cause (and holds no traceback)."""
    lines = log_lines(log)
    refusals = [line for line in lines if line["message"] == "request_finished" and line["status"] == 503]
    assert len(refusals) == len(refused), log[-5000:]
    assert {line["reason"] for line in refusals} == {"database_unreachable"}, refusals
    ids = [line.get("request_id") for line in lines]
    assert all(ids.count(line["request_id"]) == 1 for line in refusals), log[-5000:]


def assert_served_through(server_log: str, workers: int) -> None:
    """The same gunicorn workers served before, during and after: none hung, none was replaced."""
    assert server_log.count("Booting worker") == workers, server_log[-3000:]
    assert "WORKER TIMEOUT" not in server_log
    assert "Traceback" not in server_log, server_log[-5000:]


def signed_in(server, username: str) -> str:
    """The Cookie header of a browser signed in through the login page (its session is in MySQL)."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = server.url("/accounts/login/")
    form = browser.open(login, timeout=30).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    browser.open(urllib.request.Request(login, data=urlencode(
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf}).encode()), timeout=30)
    cookies = {cookie.name: cookie.value for cookie in jar}
    assert "sessionid" in cookies, cookies
    return f"sessionid={cookies['sessionid']}"


def database_outage(own_mysql, tmp_path, *, fail, repair, env=None, rate: float, workers: int):
    """Serve under a steady load of the counter page (anonymous and signed in) and API reads while
    the database fails (`fail`) for 5 seconds, then is repaired; checks what clients got."""
    server_db, service_env, username = own_mysql
    before = hello_count(server_db.url)
    with serving({**service_env, **(env or {})}, tmp_path, workers=workers) as server:
        requests = [page(), {**page("signed-in"), "cookie": signed_in(server, username)},
                    api_list(token_for(server, username))]
        with Load(server.base_url, requests, rate=rate, out=tmp_path / "load.jsonl") as load:
            time.sleep(3)
            fault = Fault(time.time())
            fail()
            time.sleep(5)
            repair()
            fault.ended = time.time()
            time.sleep(5)
            answers = load.finish()
    after = hello_count(server_db.url)
    log = server.output()

    assert_answered_in_time(answers)
    assert {a.status for a in answers} <= {200, 503}, described(answers)
    refused = [a for a in answers if a.status == 503]
    assert refused, f"no request met the outage:\n{described(answers)}"
    assert all(fault.overlaps(a) for a in refused), described(answers)
    assert_unavailable_answers(refused)
    recovered = [a for a in answers if a.sent > fault.ended + 1]
    assert recovered and {a.status for a in recovered} == {200}, described(recovered)

    # Each 200 of the counter page shows the value its own increment produced: none twice, and
    # none lost to the outage (a lost commit would have been produced again, so shown twice). An
    # increment may count without its 200 (committed, then the answer lost), never the reverse.
    pages = [a for a in answers if a.name in ("page", "signed-in")]
    counts = [int(COUNT.search(a.body).group(1)) for a in pages if a.status == 200]
    assert len(counts) == len(set(counts)), sorted(counts)
    assert all(before < count <= after for count in counts), (before, after, sorted(counts))
    assert len(counts) <= after - before <= len(pages)

    assert_one_line_each(log, refused)
    assert_served_through(log, workers=workers)


@pytest.mark.integration
def test_mysql_crashes_and_comes_back_under_load(own_mysql, tmp_path):
    """SIGKILL, then a restart on the same data: connections are refused meanwhile."""
    server_db = own_mysql[0]
    database_outage(own_mysql, tmp_path, fail=server_db.crash, repair=server_db.start, rate=8, workers=2)


@pytest.mark.integration
def test_mysql_hangs_and_comes_back_under_load(own_mysql, tmp_path):
    """SIGSTOP, then SIGCONT: connections open but nothing answers, as a server that hangs or a
    primary gone behind a network that drops packets. Each request waits at most the connect
    and read timeouts, so a worker serves one request each 2 seconds meanwhile: the load stays
    under what the 4 workers can refuse."""
    server_db = own_mysql[0]
    database_outage(own_mysql, tmp_path, fail=server_db.freeze, repair=server_db.thaw,
                    env={"DB_CONNECT_TIMEOUT": "2", "DB_READ_TIMEOUT": "2"}, rate=1.5, workers=4)


# Redis stops and comes back; a worker is killed

def processing_tally(service_database, mysql_url) -> tuple[int, int]:
    """(the messages-processed counter, the messages processed): each processing raises both by
    one in one transaction, so a message processed twice shows as a counter ahead."""
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    return query(mysql_url, f"SELECT (SELECT COALESCE(SUM(value), 0) FROM `{name}`.application_counter "
                            f"WHERE name = 'messages-processed'), (SELECT COUNT(*) FROM "
                            f"`{name}`.application_message WHERE status = 'processed')")


def statuses(service_database, mysql_url, ids: list[int]) -> dict[str, int]:
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    connection = mysql_admin_connection(mysql_url)
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT status, COUNT(*) FROM `{name}`.application_message WHERE id IN "
                       f"({', '.join(['%s'] * len(ids))}) GROUP BY status", ids)
        return dict(cursor.fetchall())
    finally:
        connection.close()


def accepted_ids(answers: list[Answer]) -> list[int]:
    return [json.loads(a.body)["id"] for a in answers if a.name == "create" and a.status == 201]


def assert_each_processed_once(accepted: list[int], before: tuple[int, int], service_database,
                               mysql_url) -> None:
    assert accepted
    eventually(lambda: statuses(service_database, mysql_url, accepted) == {"processed": len(accepted)},
               timeout=120, message=f"the {len(accepted)} accepted messages processed")
    time.sleep(2)  # a duplicate delivery, if any, has run by now
    counter, processed = processing_tally(service_database, mysql_url)
    assert processed - before[1] >= len(accepted)
    assert counter - before[0] == processed - before[1], "a message was processed more than once"


@pytest.mark.integration
def test_redis_stops_and_comes_back_under_load(stack_env, api_user, tmp_path, service_database, mysql_url):
    """Redis (cache, throttles, broker, beat's lock) stops, and starts again empty (no persistence,
    as a replaced node): pages and the API answer throughout; messages written meanwhile wait as
    pending, and beat's sweep has them processed once Redis is back."""
    port = free_port()
    env = {**stack_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "MESSAGE_SWEEP_SECONDS": "2",
           "MESSAGE_SWEEP_GRACE_SECONDS": "1"}
    before = processing_tally(service_database, mysql_url)
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(redis_server(port, tmp_path))
        server = stack.enter_context(serving(env, tmp_path))
        # The worker may exit in the outage (see the next test): its supervisor starts it again.
        worker = Supervised(["celery", "--concurrency", "2"], env, tmp_path / "worker", ready=WORKER_READY)
        stack.callback(worker.stop)
        beat = stack.enter_context(running(["celery.beat"], env, tmp_path / "beat.log",
                                           ready="beat: Starting"))
        token = token_for(server, api_user)
        requests = [page(), {**page("signed-in"), "cookie": signed_in(server, api_user)}, api_list(token),
                    api_create(token)]
        with Load(server.base_url, requests, rate=6, out=tmp_path / "load.jsonl") as load:
            time.sleep(4)
            fault = Fault(time.time())
            stop(redis)  # what it queued is gone with it: only the sweep can publish those again
            time.sleep(6)
            stack.enter_context(redis_server(port, tmp_path))
            fault.ended = time.time()
            time.sleep(6)
            answers = load.finish()

        assert_answered_in_time(answers)
        expected = {"page": 200, "signed-in": 200, "list": 200, "create": 201}
        unexpected = [a for a in answers if a.status != expected[a.name]]
        assert not unexpected, described(unexpected)
        during = [a for a in answers if fault.began < a.sent and a.sent + a.seconds < fault.ended]
        assert {a.name for a in during} == set(expected), described(answers)  # all were tried meanwhile
        assert all(code != 0 for code in worker.exits), worker.exits  # else no supervisor restarts it
        assert beat.poll() is None, f"beat exited during the outage:\n{(tmp_path / 'beat.log').read_text()}"
        assert_each_processed_once(accepted_ids(answers), before, service_database, mysql_url)
    assert "Traceback" not in server.output(), server.output()[-5000:]


def jobs_waiting(service_database, mysql_url) -> int:
    """The processing jobs that wait inside their transaction, for the counter's row."""
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    return query(mysql_url, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s AND "
                            "INFO LIKE 'UPDATE%%application_counter%%'", [name])[0]


@contextlib.contextmanager
def jobs_held(service_database, mysql_url):
    """Every processing job waits inside its transaction until the block ends (a lock, in a
    connection of the test's own, on the counter's row, which must exist)."""
    name = urlsplit(service_database["DATABASE_URL"]).path.lstrip("/")
    holder = mysql_admin_connection(mysql_url)
    holder.autocommit(False)
    try:
        holder.cursor().execute(f"SELECT value FROM `{name}`.application_counter WHERE name = "
                                f"'messages-processed' FOR UPDATE")
        yield
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.integration
def test_a_worker_running_a_job_when_redis_goes_away_is_restarted_and_loses_no_job(
        stack_env, api_user, tmp_path, service_database, mysql_url):
    """Redis goes away while the worker runs a job and waits for the next. Celery 5.7.0 then ends
    the worker ("Unrecoverable error: AttributeError: 'NoneType' object has no attribute
    'hostname'": its clean-up closes the Redis channel twice, and the second close restores the
    unacknowledged job through a connection already released; Celery 5.6 ends it too). What the
    service relies on holds either way: a worker that ends says so with a non-zero exit, its
    supervisor starts it again (compose, Beanstalk, `invoke dev`'s loop; Supervised here), and the
    job it held (its message left pending, its queue gone with Redis: beat's sweep sends it again)
    and the one written after are processed once Redis is back."""
    port = free_port()
    env = {**stack_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "MESSAGE_SWEEP_SECONDS": "2",
           "MESSAGE_SWEEP_GRACE_SECONDS": "1"}
    with redis_server(port, tmp_path) as redis, serving(env, tmp_path) as server, \
            running(["celery.beat"], env, tmp_path / "beat.log", ready="beat: Starting"):
        worker = Supervised(["celery", "--concurrency", "2"], env, tmp_path / "worker", ready=WORKER_READY)
        try:
            token = token_for(server, api_user)
            first, _ = create_message(server, token, "first")
            eventually(lambda: statuses(service_database, mysql_url, [first]) == {"processed": 1}, timeout=30,
                       message="the first message processed (the counter's row exists)")
            with jobs_held(service_database, mysql_url):
                held, _ = create_message(server, token, "held")
                eventually(lambda: jobs_waiting(service_database, mysql_url) == 1, timeout=30, interval=0.1,
                           message="the job waits inside its transaction")
                stop(redis)
                time.sleep(3)
            with redis_server(port, tmp_path):
                after, _ = create_message(server, token, "after the outage")
                eventually(lambda: statuses(service_database, mysql_url, [held, after]) == {"processed": 2},
                           timeout=120, message="the held job and the later one are processed")
        finally:
            worker.stop()
    assert all(code != 0 for code in worker.exits), worker.exits  # an end its supervisor sees as a failure


@pytest.mark.integration
def test_a_worker_killed_under_load_leaves_each_message_processed_once(stack_env, api_user, tmp_path,
                                                                       service_database, mysql_url):
    """Jobs are held inside their transactions (a lock on the counter they raise, taken here) when
    the worker's process group is killed; a new worker then gets them again (acknowledged late,
    rejected on a lost worker) along with those queued meanwhile."""
    env = {**stack_env, "CELERY_TASK_TIME_LIMIT": "6", "CELERY_SOFT_LIMIT_MARGIN": "1",
           "CELERY_VISIBILITY_TIMEOUT": "8", "CELERY_UNACKED_RESTORE_INTERVAL": "1",
           "CELERY_UNACKED_RESTORE_THROTTLE": "1"}
    before = processing_tally(service_database, mysql_url)
    with serving(env, tmp_path) as server:
        token = token_for(server, api_user)
        first_log, worker = tmp_path / "worker-1.log", ["celery", "--concurrency", "2"]
        requests = [api_create(token), page()]
        with running(worker, env, first_log, ready=WORKER_READY) as first, \
                Load(server.base_url, requests, rate=6, out=tmp_path / "load.jsonl") as load:
            eventually(lambda: processing_tally(service_database, mysql_url)[1] > before[1], timeout=30,
                       message="the worker processes messages")
            with jobs_held(service_database, mysql_url):
                eventually(lambda: jobs_waiting(service_database, mysql_url) >= 1, timeout=4, interval=0.1,
                           message="a job waits inside its transaction")
                kill(first)
            time.sleep(2)  # messages queue with no worker
            with running(worker, env, tmp_path / "worker-2.log", ready=WORKER_READY):
                time.sleep(3)
                answers = load.finish()
                assert_each_processed_once(accepted_ids(answers), before, service_database, mysql_url)
        assert "succeeded" in first_log.read_text()
        assert_answered_in_time(answers)
        unexpected = [a for a in answers if a.status != {"create": 201, "page": 200}[a.name]]
        assert not unexpected, described(unexpected)
