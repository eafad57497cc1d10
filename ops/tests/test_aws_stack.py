"""The stack's plan, execution, events and removal: against moto where it has the behaviour, and
with botocore's Stubber for what moto never does (a stack that fails and rolls back)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from ops.aws import config, stack
from ops.errors import UserError
from ops.testing import FakeClock

TEMPLATE = {
    "Parameters": {"ProjectName": {"Type": "String"}, "EnvironmentName": {"Type": "String"},
                   "Greeting": {"Type": "String"}},
    "Resources": {
        "Greeting": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": {"Fn::Sub": "/${ProjectName}/${EnvironmentName}/GREETING"}, "Type": "String",
            "Value": {"Ref": "Greeting"}}},
        "Images": {"Type": "AWS::ECR::Repository", "Properties": {
            "RepositoryName": {"Fn::Sub": "${ProjectName}-${EnvironmentName}"}}},
    },
    "Outputs": {"Repository": {"Value": {"Ref": "Images"}}},
}
PARAMETERS = {"ProjectName": "demo", "EnvironmentName": "production", "Greeting": "hello"}


def make_plan(cfn, parameters=PARAMETERS, template=TEMPLATE, out=None):
    return stack.plan(cfn, stack_name="demo-production", template_body=json.dumps(template),
                      parameters=parameters, tags={"Project": "demo"}, out=out or io.StringIO())


@pytest.fixture
def cfn(aws):
    return boto3.client("cloudformation", region_name="eu-west-1")


def test_a_new_stack_is_planned_as_additions_then_created(cfn):
    plan = make_plan(cfn)
    assert plan.kind == "CREATE"
    assert {(change.action, change.logical_id) for change in plan.changes} == {("Add", "Greeting"),
                                                                              ("Add", "Images")}
    assert "+ add      Images (AWS::ECR::Repository)" in plan.report()
    out = io.StringIO()
    stack.execute(cfn, plan, timeout=60, out=out)  # (moto leaves a change set's stack without outputs)
    assert stack.stack_status(cfn, "demo-production") == "CREATE_COMPLETE"
    assert "CREATE_COMPLETE" in out.getvalue()  # the events were followed
    ecr = boto3.client("ecr", region_name="eu-west-1")
    assert [repository["repositoryName"] for repository in ecr.describe_repositories()["repositories"]] == [
        "demo-production"]


def test_an_unchanged_stack_has_nothing_to_change_and_a_change_is_planned_as_one(cfn):
    stack.execute(cfn, make_plan(cfn), timeout=60, out=io.StringIO())
    again = make_plan(cfn)
    assert again.empty and again.report() == "demo-production: nothing to change."
    left = cfn.list_change_sets(StackName="demo-production")["Summaries"]
    assert again.change_set not in {summary["ChangeSetName"] for summary in left}  # cleaned up
    grown = {**TEMPLATE, "Resources": {**TEMPLATE["Resources"], "MoreImages": {
        "Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "demo-more"}}}}
    changed = make_plan(cfn, template=grown)
    assert changed.kind == "UPDATE"
    assert [(change.action, change.logical_id) for change in changed.changes] == [("Add", "MoreImages")]


def test_a_discarded_plan_for_a_new_stack_leaves_nothing(cfn):
    stack.discard(cfn, make_plan(cfn))
    assert stack.stack_status(cfn, "demo-production") is None


def test_teardown_lifts_deletion_protection_and_deletes(cfn):
    stack.execute(cfn, make_plan(cfn), timeout=60, out=io.StringIO())
    stack.teardown(cfn, boto3.client("rds", region_name="eu-west-1"), "demo-production", timeout=60,
                   out=io.StringIO())
    assert stack.stack_status(cfn, "demo-production") is None
    with pytest.raises(UserError, match="There is no stack demo-production"):
        stack.teardown(cfn, None, "demo-production", timeout=60, out=io.StringIO())


def test_a_replaced_or_removed_resource_that_holds_data_is_warned_about_loudly():
    plan = stack.Plan("s", "c", "UPDATE", (
        stack.Change("Modify", "Database", "AWS::RDS::DBInstance", "True"),
        stack.Change("Remove", "Cache", "AWS::ElastiCache::ReplicationGroup"),
        stack.Change("Modify", "WebEnvironment", "AWS::ElasticBeanstalk::Environment", "True"),
        stack.Change("Modify", "Images", "AWS::ECR::Repository", "False"),
    ))
    report = plan.report()
    assert "~ modify   Database (AWS::RDS::DBInstance) (REPLACED)" in report
    assert "!! WARNING: this replaces Database (AWS::RDS::DBInstance), which holds data" in report
    assert "!! WARNING: this removes Cache (AWS::ElastiCache::ReplicationGroup)" in report
    assert report.count("!! WARNING") == 2  # instances hold no data; an in-place change loses none


@pytest.mark.parametrize(("status", "message"), [
    ("ROLLBACK_COMPLETE", "its first creation failed and was rolled back"),
    ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback --stack-name s"),
    ("UPDATE_IN_PROGRESS", "another change is under way"),
    ("DELETE_FAILED", "a failed state no change can start from"),
])
def test_a_stack_stuck_in_a_state_is_named_with_the_way_out(status, message):
    with pytest.raises(UserError, match=message):
        stack.check_can_change("s", status)


@pytest.mark.parametrize("status", [None, "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                                    "REVIEW_IN_PROGRESS"])
def test_settled_stacks_can_change(status):
    stack.check_can_change("s", status)


def event(seconds, logical_id, status, reason="", resource_type="AWS::RDS::DBInstance"):
    return {"EventId": f"{logical_id}-{status}-{seconds}", "StackName": "s", "LogicalResourceId": logical_id,
            "ResourceType": resource_type, "ResourceStatus": status, "ResourceStatusReason": reason,
            "Timestamp": STARTED + timedelta(seconds=seconds), "StackId": "id"}


STARTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_first_failure_is_the_one_named():
    events = [
        event(9, "Cache", "CREATE_FAILED", "Resource creation cancelled",
              "AWS::ElastiCache::ReplicationGroup"),
        event(5, "Database", "CREATE_FAILED", "DB instance class db.x9.huge is not available"),
        event(12, "s", "ROLLBACK_COMPLETE", resource_type="AWS::CloudFormation::Stack"),
    ]
    assert stack.failure_of(events) == ("Database (AWS::RDS::DBInstance): "
                                        "DB instance class db.x9.huge is not available")


def stubbed_failed_update():
    """A stack that fails an update and rolls back: moto never fails a stack, so the answers are
    scripted (botocore's Stubber checks each request against the real API)."""
    cfn = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    stubber = Stubber(cfn)
    stubber.add_response("execute_change_set", {}, {"StackName": "s", "ChangeSetName": "c"})
    script = [
        ([event(1, "Database", "UPDATE_IN_PROGRESS")], "UPDATE_IN_PROGRESS"),
        ([event(1, "Database", "UPDATE_IN_PROGRESS"),
          event(4, "Database", "UPDATE_FAILED", "The allocated storage cannot be reduced")],
         "UPDATE_ROLLBACK_IN_PROGRESS"),
        ([event(1, "Database", "UPDATE_IN_PROGRESS"),
          event(4, "Database", "UPDATE_FAILED", "The allocated storage cannot be reduced"),
          event(9, "s", "UPDATE_ROLLBACK_COMPLETE", resource_type="AWS::CloudFormation::Stack")],
         "UPDATE_ROLLBACK_COMPLETE"),
    ]
    for events, status in script:
        stubber.add_response("describe_stack_events", {"StackEvents": list(reversed(events))},
                             {"StackName": "s"})
        stubber.add_response("describe_stacks", {"Stacks": [{
            "StackName": "s", "StackStatus": status, "CreationTime": STARTED}]}, {"StackName": "s"})
    return cfn, stubber


def test_a_failed_update_says_what_failed_and_that_it_was_rolled_back(monkeypatch):
    cfn, stubber = stubbed_failed_update()
    monkeypatch.setattr(stack, "datetime", type("Frozen", (), {"now": staticmethod(lambda tz: STARTED)}))
    clock = FakeClock()
    out = io.StringIO()
    with stubber, pytest.raises(UserError) as error:
        stack.execute(cfn, stack.Plan("s", "c", "UPDATE", ()), timeout=600, out=out, clock=clock,
                      sleep=clock.sleep)
    assert str(error.value) == ("s ended UPDATE_ROLLBACK_COMPLETE: Database (AWS::RDS::DBInstance): The "
                                "allocated storage cannot be reduced. CloudFormation rolled the stack back "
                                "to where it was.")
    lines = out.getvalue()
    assert "4s  Database" in lines and "UPDATE_FAILED  The allocated storage cannot be reduced" in lines
    assert lines.count("UPDATE_IN_PROGRESS") == 1  # each event once, however often it was read
    stubber.assert_no_pending_responses()


def test_waiting_ends_at_the_timeout_with_the_way_on():
    clock = FakeClock()
    with pytest.raises(UserError, match="did not finish within 30s; it goes on in AWS"):
        stack.wait(lambda: None, what="CloudFormation", timeout=30, out=io.StringIO(), clock=clock,
                   sleep=clock.sleep)


def test_the_template_hands_every_stored_secret_to_each_environment():
    template = {"Resources": {
        "Web": {"Type": "AWS::ElasticBeanstalk::Environment", "Properties": {"OptionSettings": [
            {"Namespace": config.SECRETS_NAMESPACE, "OptionName": "SECRET_KEY", "Value": "arn:kept"}]}},
        "Worker": {"Type": "AWS::ElasticBeanstalk::Environment", "Properties": {}},
        "Images": {"Type": "AWS::ECR::Repository", "Properties": {}},
    }}
    rendered = config.with_secrets(template, ["SECRET_KEY", "SENTRY_DSN"])
    web = rendered["Resources"]["Web"]["Properties"]["OptionSettings"]
    assert [setting["OptionName"] for setting in web] == ["SECRET_KEY", "SENTRY_DSN"]
    assert web[0]["Value"] == "arn:kept"
    assert web[1]["Value"] == {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:"
                                          "parameter/${ProjectName}/${EnvironmentName}/SENTRY_DSN"}
    worker = rendered["Resources"]["Worker"]["Properties"]["OptionSettings"]
    assert [setting["OptionName"] for setting in worker] == ["SECRET_KEY", "SENTRY_DSN"]
    assert "OptionSettings" not in rendered["Resources"]["Images"]["Properties"]
    assert template["Resources"]["Worker"]["Properties"] == {}  # the template itself is untouched
