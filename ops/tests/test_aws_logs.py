"""`invoke logs`: CloudWatch Logs read against the moto server, the events put there by the tests, and
exactly what is printed (order, the --since window, each event once across --follow's polls)."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import boto3
import pytest
from invoke import Config, Context, Exit

import tasks
from ops.aws import logs
from ops.aws.target import OUTPUTS
from ops.aws.target import load as load_target
from ops.errors import UserError
from ops.tasks.logs import logs as logs_task
from ops.testing import REPOSITORY, FakeClock, wait_for_text

STACK = "little-service-production"
GROUP = "/aws/elasticbeanstalk/demo-web/var/log/eb-docker/containers/eb-current-app/stdouterr.log"
WEB, OTHER_WEB = "i-0a1b2c3d4e5f60718", "i-0f9e8d7c6b5a40312"
NOW = (int(time.time()) - 600) * 1000  # "now" of the tests, in milliseconds: moto keeps 14 days


def stamp(milliseconds: int) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(milliseconds // 1000))
    return f"{seconds}.{milliseconds % 1000:03}Z"


@pytest.fixture
def client(aws):
    return boto3.client("logs", region_name="eu-west-1")


def put(client, stream: str, *events: tuple[int, str], group: str = GROUP) -> None:
    """Events (timestamp in ms, message) into the stream, made with its group when missing."""
    groups = client.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    if group not in {found["logGroupName"] for found in groups}:
        client.create_log_group(logGroupName=group)
    streams = client.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]
    if stream not in {found["logStreamName"] for found in streams}:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    answer = client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": timestamp, "message": message} for timestamp, message in events])
    assert "rejectedLogEventsInfo" not in answer


def tailed(client, *, since: int = 600, **options) -> list[str]:
    out = io.StringIO()
    try:
        logs.tail(client, GROUP, since=since, out=out, now=lambda: NOW / 1000, **options)
    except KeyboardInterrupt:  # a failure of this test, not the end of the test run
        pytest.fail(f"Ctrl-C came out of tail after:\n{out.getvalue()}")
    return out.getvalue().splitlines()


# Arguments and lines

@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400),
                                               ("0s", 0), (" 90m ", 5400)])
def test_since_takes_seconds_minutes_hours_and_days(text, seconds):
    assert logs.parse_since(text) == seconds


@pytest.mark.parametrize("text", ["10", "m", "10x", "-5m", "1.5h", "10M", "1w", "", "10 m", "ten m"])
def test_any_other_since_names_the_accepted_forms(text):
    with pytest.raises(UserError, match=r"is not a duration: write a whole number and a unit: s, m, h or d "
                                        r"\(30s, 10m, 2h, 1d\)"):
        logs.parse_since(text)


def test_a_role_is_web_worker_or_migrate():
    assert [logs.check_role(role) for role in logs.ROLES] == ["web", "worker", "migrate"]
    with pytest.raises(UserError, match="Unknown role 'db'. Choose one of: web, worker, migrate"):
        logs.check_role("db")


def test_a_line_is_utc_time_short_stream_name_and_message():
    line = logs.event_line({"timestamp": 1_700_000_000_007, "logStreamName": WEB, "message": "GET / 200\n"})
    assert line == f"2023-11-14T22:13:20.007Z {WEB} GET / 200"
    build = {"timestamp": 1_700_000_000_999, "logStreamName": "3f2a9c41-7b8e-4d21-a0f3-5c6b7d8e9f01",
             "message": "Applying accounts.0001_initial... OK\r\n"}
    assert logs.event_line(build) == "2023-11-14T22:13:20.999Z 3f2a9c41 Applying accounts.0001_initial... OK"
    assert logs.stream_label("web/docker/i-0abc") == "i-0abc"


def test_the_cursor_remembers_the_ids_printed_at_its_timestamp():
    first = logs.Cursor(100).after([{"timestamp": 150, "eventId": "a"}, {"timestamp": 200, "eventId": "b"},
                                    {"timestamp": 200, "eventId": "c"}])
    assert first == logs.Cursor(200, frozenset({"b", "c"}))
    assert first.unseen([{"timestamp": 200, "eventId": "b"}, {"timestamp": 200, "eventId": "d"}]) == [
        {"timestamp": 200, "eventId": "d"}]
    assert first.after([{"timestamp": 200, "eventId": "d"}]) == logs.Cursor(200, frozenset({"b", "c", "d"}))
    assert first.after([{"timestamp": 201, "eventId": "e"}]) == logs.Cursor(201, frozenset({"e"}))
    assert first.after([]) is first


# Against moto

def test_the_window_s_events_of_every_stream_in_time_order(client):
    start = NOW - 600_000
    put(client, WEB, (start - 1, "before the window"), (start, "first, at the window's start"),
        (NOW - 3_000, "third"), (NOW - 1_000, "fifth"))
    put(client, OTHER_WEB, (start + 5, "second"), (NOW - 2_000, "fourth"), (NOW, "sixth, now"))
    assert tailed(client) == [
        f"{stamp(start)} {WEB} first, at the window's start",
        f"{stamp(start + 5)} {OTHER_WEB} second",
        f"{stamp(NOW - 3_000)} {WEB} third",
        f"{stamp(NOW - 2_000)} {OTHER_WEB} fourth",
        f"{stamp(NOW - 1_000)} {WEB} fifth",
        f"{stamp(NOW)} {OTHER_WEB} sixth, now",
    ]
    assert tailed(client, since=2) == [f"{stamp(NOW - 2_000)} {OTHER_WEB} fourth",
                                       f"{stamp(NOW - 1_000)} {WEB} fifth",
                                       f"{stamp(NOW)} {OTHER_WEB} sixth, now"]
    assert tailed(client, since=0) == [f"{stamp(NOW)} {OTHER_WEB} sixth, now"]


def test_every_page_is_read(client):
    put(client, WEB, *[(NOW - 25_000 + index * 1000, f"event {index:02}") for index in range(25)])
    calls = []
    client.meta.events.register("before-call.logs.FilterLogEvents", lambda **kwargs: calls.append(kwargs))
    events = logs.fetch(client, GROUP, start=NOW - 60_000, page_size=10)
    assert [event["message"] for event in events] == [f"event {index:02}" for index in range(25)]
    assert len(calls) == 3


def test_follow_prints_each_new_event_once_until_ctrl_c(client):
    put(client, WEB, (NOW - 5_000, "before following"), (NOW - 1_000, "at the boundary, first"))
    clock = FakeClock()
    arrivals = {
        # another event in the millisecond already printed: shown, the one printed before not again
        2.0: [(WEB, NOW - 1_000, "at the boundary, late")],
        4.0: [],
        6.0: [(OTHER_WEB, NOW + 1_000, "new, other instance"), (WEB, NOW + 2_000, "new, same instance")],
        8.0: [(WEB, NOW + 2_000, "same millisecond again")],
    }

    def sleep(seconds):
        clock.sleep(seconds)
        if clock.now > max(arrivals):
            raise KeyboardInterrupt
        for stream, timestamp, message in arrivals[clock.now]:
            put(client, stream, (timestamp, message))

    assert tailed(client, follow=True, sleep=sleep) == [
        f"{stamp(NOW - 5_000)} {WEB} before following",
        f"{stamp(NOW - 1_000)} {WEB} at the boundary, first",
        f"{stamp(NOW - 1_000)} {WEB} at the boundary, late",
        f"{stamp(NOW + 1_000)} {OTHER_WEB} new, other instance",
        f"{stamp(NOW + 2_000)} {WEB} new, same instance",
        f"{stamp(NOW + 2_000)} {WEB} same millisecond again",
    ]
    assert clock.now == 10.0  # a poll every 2 s: four polls, then Ctrl-C during the fifth pause


def test_ctrl_c_while_reading_ends_quietly_too(client):
    put(client, WEB, (NOW, "never printed"))

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    client.meta.events.register("before-call.logs.FilterLogEvents", interrupted)
    assert tailed(client, follow=True, sleep=pytest.fail) == []


def test_a_log_group_that_does_not_exist_yet_is_named(client):
    put(client, WEB, (NOW, "an older environment's"), group=GROUP + "-old")  # the name is a prefix of it
    with pytest.raises(UserError) as raised:
        logs.require_group(client, GROUP, env="production", role="web")
    assert str(raised.value) == (f"production has no web logs yet: the log group {GROUP} does not exist "
                                 "(nothing has been deployed to the web role yet).")
    with pytest.raises(UserError, match=r"no migrate logs yet: .* \(the migrations have not run on AWS\b"):
        logs.require_group(client, "/aws/codebuild/demo-migrate", env="production", role="migrate")
    put(client, WEB, (NOW, "deployed"))
    logs.require_group(client, GROUP, env="production", role="web")


# The task

def make_stack() -> dict[str, str]:
    """The environment's stack as far as `invoke logs` reads it (its outputs), in moto: one topic
    and literal outputs. The log groups of its roles, by role."""
    names = {field: f"{STACK}-{field}" for field in OUTPUTS}
    template = {"Resources": {"Alarms": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {output: {"Value": names[field]} for field, output in OUTPUTS.items()}}
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    target = load_target(cfn, STACK, "production")
    return {role: target.log_group(role) for role in logs.ROLES}


def context() -> Context:
    return Context(Config(overrides=tasks.ns.configuration()))


@pytest.fixture
def command(aws):
    """How a user calls invoke."""
    return [sys.executable, "-m", "invoke"]


def test_invoke_logs_prints_the_role_s_window(client, command, aws):
    groups = make_stack()
    now = int(time.time() * 1000)
    put(client, WEB, (now - 2 * 3_600_000, "two hours ago"), (now - 30 * 60_000, "half an hour ago"),
        (now - 60_000, "a minute ago"), group=groups["web"])
    put(client, "i-0c0ffee0c0ffee000", (now - 60_000, "the worker's"), group=groups["worker"])

    def run(*arguments):
        return subprocess.run([*command, "logs", "--env", "production", *arguments], cwd=REPOSITORY,
                              env=aws, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    recent = run()
    assert (recent.returncode, recent.stderr) == (0, "")
    assert recent.stdout == f"{stamp(now - 60_000)} {WEB} a minute ago\n"
    hour = run("--since", "1h")
    assert hour.stdout.splitlines() == [f"{stamp(now - 30 * 60_000)} {WEB} half an hour ago",
                                        f"{stamp(now - 60_000)} {WEB} a minute ago"]
    worker = run("--role", "worker")
    assert worker.stdout == f"{stamp(now - 60_000)} i-0c0ffee0c0ffee000 the worker's\n"
    migrate = run("--role", "migrate")
    assert migrate.returncode == 1
    assert migrate.stderr == (f"error: production has no migrate logs yet: the log group {groups['migrate']} "
                              "does not exist (the migrations have not run on AWS yet).\n")


def test_invoke_logs_follow_prints_what_comes_and_ctrl_c_ends_it_with_0(client, command, aws, tmp_path):
    groups = make_stack()
    now = int(time.time() * 1000)
    put(client, WEB, (now - 1_000, "before"), group=groups["web"])
    log = tmp_path / "follow.log"
    with log.open("w") as handle:
        process = subprocess.Popen([*command, "logs", "--env", "production", "--follow"], cwd=REPOSITORY,
                                   env=aws, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_text(log, f"{WEB} before\n", process=process)
        put(client, WEB, (now + 1_000, "after"), group=groups["web"])
        wait_for_text(log, f"{WEB} after\n", process=process)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert log.read_text() == f"{stamp(now - 1_000)} {WEB} before\n{stamp(now + 1_000)} {WEB} after\n"


@pytest.mark.parametrize(("options", "message"), [
    ({"since": "10x"}, "error: --since '10x' is not a duration: write a whole number and a unit"),
    ({"role": "db"}, "error: Unknown role 'db'. Choose one of: web, worker, migrate"),
    ({}, f"error: production has no stack on AWS yet ({STACK}): create it with invoke aws.bootstrap"),
    ({"env": "local"}, "error: local has no AWS environment"),
])
def test_mistakes_end_in_one_message(aws, options, message):
    with pytest.raises(Exit) as raised:
        logs_task(context(), **{"env": "production", **options})
    assert str(raised.value.message).startswith(message), raised.value.message
    assert raised.value.code == 1
