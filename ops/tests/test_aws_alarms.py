"""`invoke aws.alarms` as a person runs it, against the moto server: the stack made from
aws/environment.yml and production.json, and its alarms made in CloudWatch from the template's own
AWS::CloudWatch::Alarm properties (moto's CloudFormation does not model alarms), so that what the
task reads is what the template declares."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ops.aws.alarms import Alarm, Report, age, alarms_of, resolved
from ops.testing import invoke
from ops.tests.test_aws_template import REGION, STACK, create_stack, template, values

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

ACCOUNT = "123456789012"  # moto's
# The property that names each kind of resource an alarm refers to (its Ref), as AWS names it.
NAMED_BY = {
    "AWS::ElasticBeanstalk::Environment": "EnvironmentName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::SNS::Topic": "TopicName",
}
INTEGERS = {"EvaluationPeriods", "DatapointsToAlarm", "Period"}
EXPECTED = ["web-health", "worker-health", "web-5xx", "web-latency-p95", "web-unhealthy-hosts",
            "worker-unhealthy-hosts", "database-cpu", "database-free-storage", "database-connections",
            "redis-memory", "queue-backlog"]


def rendered(node, given: dict[str, str], resources: dict):
    """A template node as CloudFormation would hand it to CloudWatch: parameters and the names of
    the resources it refers to put in (an SNS topic's Ref is its ARN), numbers as numbers."""
    def name_of(logical_id: str) -> str:
        resource = resources[logical_id]
        name = rendered(resource["Properties"][NAMED_BY[resource["Type"]]], given, resources)
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}" if resource["Type"] == "AWS::SNS::Topic" else name

    def value_of(name: str) -> str:
        return given[name] if name in given else name_of(name)

    if isinstance(node, list):
        return [rendered(item, given, resources) for item in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return value_of(node["Ref"])
    if "Fn::Sub" in node:
        return re.sub(r"\$\{([\w:]+)\}", lambda match: value_of(match.group(1)), node["Fn::Sub"])
    result = {}
    for key, value in node.items():
        value = rendered(value, given, resources)
        if key in INTEGERS:
            value = int(value)
        elif key == "Threshold":
            value = float(value)
        result[key] = value
    return result


def put_template_alarms() -> dict[str, dict]:
    """Each of the template's alarms put into CloudWatch as the stack would make it (botocore
    checks every property against CloudWatch's API); the properties by alarm name."""
    resources = template()["Resources"]
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    made = {}
    for spec in resources.values():
        if spec["Type"] == "AWS::CloudWatch::Alarm":
            properties = rendered(spec["Properties"], values(), resources)
            cloudwatch.put_metric_alarm(**properties)
            made[properties["AlarmName"]] = properties
    return made


@pytest.fixture
def stack(aws):
    """The stack on moto, its alarms in CloudWatch; the alarms' properties by name."""
    create_stack()
    return put_template_alarms()


def set_state(name: str, state: str, reason: str) -> None:
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName=f"{STACK}-{name}", StateValue=state, StateReason=reason)


def alarms(env: dict, *arguments: str):
    return invoke("aws.alarms", "--env", "production", *arguments, env=env, timeout=180)


def rows(stdout: str) -> dict[str, list[str]]:
    """The table's rows by short name: the cells (split on two or more spaces)."""
    found = {}
    for line in stdout.splitlines()[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 4:
            found[cells[0]] = cells
    return found


def test_the_template_declares_each_alarm_the_task_lists_and_each_goes_into_cloudwatch(aws):
    declared = alarms_of(template(), {**values(), "AWS::StackName": STACK})
    assert sorted(alarm.name for alarm in declared) == sorted(f"{STACK}-{name}" for name in EXPECTED)
    assert not any(alarm.conditional for alarm in declared)
    made = put_template_alarms()  # botocore refuses a property CloudWatch's API does not take
    assert sorted(made) == sorted(alarm.name for alarm in declared)


def test_the_table_lists_every_alarm_with_its_state_since_threshold_and_reason(stack, aws):
    set_state("database-cpu", "ALARM", "Threshold Crossed: 10 out of the last 10 datapoints [97.5 (01/06/25 "
              "10:00:00)] were greater than the threshold (80.0) (minimum 10 datapoints for OK -> ALARM "
              "transition).")
    result = alarms(aws)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"alarms of {STACK} (named {STACK}-NAME):"
    assert re.split(r"\s{2,}", lines[1]) == ["NAME", "STATE", "SINCE", "THRESHOLD", "REASON"]
    table = rows(result.stdout)
    assert sorted(table) == sorted(EXPECTED)
    assert lines[2].startswith("database-cpu ")  # the alarm first
    cpu = table["database-cpu"]
    assert cpu[1] == "ALARM"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \(<1m ago\)", cpu[2])
    assert cpu[3] == "CPUUtilization Average > 80 for 10 min"
    assert cpu[4].startswith("Threshold Crossed: 10 out of the last 10") and cpu[4].endswith("...")
    assert len(cpu[4]) == 70
    # The thresholds come from production.json through the template, in the alarms' own terms.
    assert table["web-5xx"][1:2] + table["web-5xx"][3:4] == ["OK", "5xx % of requests > 5 for 5 min"]
    assert table["web-latency-p95"][3] == "ApplicationLatencyP95 Average > 2 for 5 min"
    assert table["web-unhealthy-hosts"][3] == "degraded or severe instances >= 1 for 5 min"
    assert table["database-free-storage"][3] == "free storage % < 10 for 10 min"
    assert table["redis-memory"][3] == "DatabaseMemoryUsagePercentage Maximum > 80 for 5 min"
    assert table["queue-backlog"][3] == "QueueDepth Maximum > 100 for 15 min, or no data"
    assert lines[-1] == "11 alarms: 1 ALARM, 10 OK"


def test_check_fails_on_an_alarm_and_passes_once_all_are_ok(stack, aws):
    set_state("queue-backlog", "ALARM", "Threshold Crossed: no datapoints were received")
    failed = alarms(aws, "--check")
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "queue-backlog" in rows(failed.stdout)  # the table first, then the verdict
    verdict = (r"check failed: queue-backlog is in ALARM since \d{4}-\d\d-\d\d \d\d:\d\d UTC: "
               r"QueueDepth Maximum > 100 for 15 min, or no data")
    assert re.fullmatch(verdict, failed.stderr.strip()), failed.stderr
    set_state("queue-backlog", "OK", "Threshold Crossed: 15 datapoints were not greater than the threshold")
    passed = alarms(aws, "--check")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.splitlines()[-1] == (
        "check passed: no alarm in ALARM, none without data for more than 30 minutes, none missing")


def test_check_gives_a_new_alarm_its_grace_before_no_data_counts(stack, aws):
    set_state("redis-memory", "INSUFFICIENT_DATA", "Insufficient Data: 5 datapoints were unknown.")
    fresh = alarms(aws, "--check")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert rows(fresh.stdout)["redis-memory"][1] == "INSUFFICIENT_DATA"
    blind = alarms(aws, "--check", "--grace", "0")
    assert blind.returncode == 2, blind.stdout + blind.stderr
    assert ("redis-memory has had no data for <1m: its metric is not arriving, so it cannot fire"
            in blind.stderr)
    assert "is in ALARM" not in blind.stderr


def test_an_alarm_missing_from_cloudwatch_is_listed_and_fails_the_check(stack, aws):
    boto3.client("cloudwatch", region_name=REGION).delete_alarms(AlarmNames=[f"{STACK}-web-5xx"])
    result = alarms(aws, "--check")
    assert result.returncode == 2
    assert rows(result.stdout)["web-5xx"][1:] == [
        "MISSING", "-", "-", "not in CloudWatch: invoke aws.bootstrap --env production makes it again"]
    assert result.stdout.splitlines()[-1] == "11 alarms: 10 OK, 1 MISSING"
    assert "web-5xx is missing from CloudWatch" in result.stderr


@pytest.mark.parametrize(("arguments", "variables", "message"), [
    ([], {}, f"production has no stack on AWS yet ({STACK}), so no alarms: create it with "
             "invoke aws.bootstrap --env production."),
    (["--grace", "soon"], {}, "--grace 'soon' is not a number of minutes"),
    (["--region", "eu-middle-9"], {}, "The AWS region 'eu-middle-9' does not exist"),
    ([], {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
          "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
          "AWS_EC2_METADATA_DISABLED": "true"}, "No AWS credentials found"),
])
def test_bad_input_is_one_clear_message(aws, arguments, variables, message):
    env = {key: value for key, value in {**aws, **variables}.items() if value}
    result = alarms(env, "--check", *arguments)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_an_environment_without_aws_is_named(aws):
    result = invoke("aws.alarms", "--env", "local", env=aws)
    assert result.returncode == 1 and "local has no AWS environment" in result.stderr, result.stderr


# --- the parts, without AWS ------------------------------------------------------------------------

def test_alarm_names_resolve_from_text_a_parameter_or_a_substitution():
    given = {"ProjectName": "shop", "EnvironmentName": "staging"}
    assert resolved("fixed", given) == "fixed"
    assert resolved({"Ref": "ProjectName"}, given) == "shop"
    assert resolved({"Fn::Sub": "${ProjectName}-${EnvironmentName}-x"}, given) == "shop-staging-x"
    assert resolved({"Fn::Sub": "${Unknown}-x"}, given) is None
    assert resolved({"Fn::Join": ["-", ["a", "b"]]}, given) is None


def test_an_alarm_without_a_readable_name_is_a_user_error():
    from ops.errors import UserError

    unnamed = {"Resources": {"Mystery": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
                             "Optional": {"Type": "AWS::CloudWatch::Alarm", "Condition": "HasIt",
                                          "Properties": {"AlarmName": "optional"}}}}
    with pytest.raises(UserError, match="alarm Mystery has no AlarmName this task can read"):
        alarms_of(unnamed, {})
    del unnamed["Resources"]["Mystery"]
    [optional] = alarms_of(unnamed, {})
    assert optional.conditional


def test_the_table_and_the_check_of_an_old_ok_alarm():
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    old = Alarm("s-e-a", "OK", now - timedelta(days=3, hours=4, minutes=5), "", "x > 1")
    report = Report("s-e", "e", (old,), missing=())
    assert "3d 4h ago" in report.table(now)
    assert report.attention(now=now, grace=timedelta(minutes=30)) == []
    assert [age(timedelta(seconds=seconds)) for seconds in (30, 60 * 12, 3600 * 2 + 300)] == ["<1m", "12m",
                                                                                              "2h 5m"]
