"""One environment's stack: plan (a change set, printed), act (execute it), verify (follow its
events to a final state, then read its outputs). The reading of states and events is kept apart
from the calls, so that scripted sequences can drive it."""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from ops.errors import UserError
from ops.waiting import poll

# Resources whose replacement or removal loses data (a new one starts empty).
HOLDS_DATA = {
    "AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::ElastiCache::ReplicationGroup",
    "AWS::ECR::Repository", "AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret",
}
TEMPLATE_DAYS = 30  # a template in S3 is read once, when the change set is made
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
SETTLED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
ROLLED_BACK = {"UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
SYMBOLS = {"Add": "+ add", "Modify": "~ modify", "Remove": "- remove", "Import": "> import",
           "Dynamic": "? dynamic"}


@dataclass(frozen=True)
class Change:
    action: str  # Add, Modify, Remove, Import, Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # True, False, Conditional (Modify only)

    @property
    def loses_data(self) -> bool:
        replaced = self.action == "Remove" or self.replacement in {"True", "Conditional"}
        return replaced and self.resource_type in HOLDS_DATA

    def line(self) -> str:
        replaced = {"True": " (REPLACED)", "Conditional": " (may be replaced)"}.get(self.replacement, "")
        symbol = SYMBOLS.get(self.action, self.action)
        return f"  {symbol:<10} {self.logical_id} ({self.resource_type}){replaced}"


@dataclass(frozen=True)
class Plan:
    stack_name: str
    change_set: str
    kind: str  # CREATE or UPDATE
    changes: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    def report(self) -> str:
        if self.empty:
            return f"{self.stack_name}: nothing to change."
        verb = "create" if self.kind == "CREATE" else "update"
        lines = [f"Plan to {verb} {self.stack_name} ({len(self.changes)} changes):",
                 *(change.line() for change in self.changes)]
        for change in self.changes:
            if change.loses_data:
                what = "removes" if change.action == "Remove" else "replaces"
                lines.append(f"!! WARNING: this {what} {change.logical_id} ({change.resource_type}), "
                             f"which holds data: a new one starts empty. Read the change again before "
                             f"you say yes.")
        return "\n".join(lines)


def changes_of(described: Iterable[dict]) -> tuple[Change, ...]:
    changes = []
    for item in described:
        resource = item.get("ResourceChange") or {}
        changes.append(Change(resource.get("Action", "?"), resource.get("LogicalResourceId", "?"),
                              resource.get("ResourceType", "?"), str(resource.get("Replacement", ""))))
    return tuple(changes)


# --- states --------------------------------------------------------------------------------------

def stack_status(cfn, name: str) -> str | None:
    """The stack's status, or None when there is none."""
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def check_can_change(name: str, status: str | None) -> None:
    """UserError when the stack is in a state that no change set can start from."""
    if status is None or status in SETTLED | ROLLED_BACK | {"REVIEW_IN_PROGRESS"}:
        return
    if status.endswith("_IN_PROGRESS"):
        raise UserError(f"{name} is {status}: another change is under way. Wait until it ends "
                        f"(the CloudFormation console shows it), then run this again.")
    if status == "ROLLBACK_COMPLETE":
        raise UserError(f"{name} is ROLLBACK_COMPLETE: its first creation failed and was rolled back, "
                        f"and such a stack can only be deleted. Run invoke aws.teardown, fix what the "
                        f"failure named, then invoke aws.bootstrap again.")
    if status == "UPDATE_ROLLBACK_FAILED":
        raise UserError(f"{name} is UPDATE_ROLLBACK_FAILED: a rollback could not finish. Fix the "
                        f"resource its events name, then: aws cloudformation continue-update-rollback "
                        f"--stack-name {name}; then run this again.")
    raise UserError(f"{name} is {status}, a failed state no change can start from: read its events "
                    f"in the CloudFormation console; invoke aws.teardown removes it.")


def failure_of(events: Iterable[dict]) -> str:
    """What failed first, from a stack's events (in any order): 'Resource (Type): reason'."""
    failed = sorted((event for event in events if event.get("ResourceStatus", "").endswith("_FAILED")
                     and "cancelled" not in (event.get("ResourceStatusReason") or "").lower()),
                    key=lambda event: event["Timestamp"])
    if not failed:
        return "no resource reported a failure"
    first = failed[0]
    return (f"{first['LogicalResourceId']} ({first.get('ResourceType', '?')}): "
            f"{first.get('ResourceStatusReason') or first['ResourceStatus']}")


def event_line(event: dict, started: datetime) -> str:
    elapsed = max(0, int((event["Timestamp"] - started).total_seconds()))
    reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
    return (f"  {elapsed:>4}s  {event['LogicalResourceId']:<28} {event.get('ResourceType', ''):<40} "
            f"{event['ResourceStatus']}{reason}")


# --- the calls -----------------------------------------------------------------------------------

Clock = Callable[[], float]


def wait(check: Callable[[], str | None], *, what: str, timeout: float, out: TextIO,
         clock: Clock = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         interval: float = 3) -> str:
    """Call `check` until it returns a value, printing the elapsed time; UserError at the timeout."""
    def progress(elapsed: float) -> None:
        out.write(f"\r{what} ... {elapsed:.0f}s")
        out.flush()

    finished, result = poll(check, done=lambda result: result is not None, timeout=timeout,
                            interval=interval, on_wait=progress, clock=clock, sleep=sleep)
    if not finished:
        out.write("\n")
        raise UserError(f"{what} did not finish within {timeout:g}s; it goes on in AWS. Look at "
                        f"it in the CloudFormation console, then run this again.")
    return result


def plan(cfn, *, stack_name: str, template_body: str | None = None, template_url: str | None = None,
         parameters: dict[str, str], tags: dict[str, str], timeout: float = 300, out: TextIO = sys.stdout,
         clock: Clock = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Plan:
    """Make a change set and describe it: nothing changes in AWS until `execute`. The template is
    sent inline (`template_body`) or read by CloudFormation from S3 (`template_url`)."""
    from botocore.exceptions import ClientError

    status = stack_status(cfn, stack_name)
    check_can_change(stack_name, status)
    kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    name = f"{stack_name}-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    try:
        cfn.create_change_set(
            StackName=stack_name, ChangeSetName=name, ChangeSetType=kind,
            **({"TemplateURL": template_url} if template_url else {"TemplateBody": template_body}),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
            Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    except ClientError as exc:  # some endpoints refuse an empty change at once
        if any(text in str(exc) for text in NO_CHANGES):
            return Plan(stack_name, name, kind, ())
        raise

    def described() -> str | None:
        state = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
        return None if state["Status"] in {"CREATE_PENDING", "CREATE_IN_PROGRESS"} else state["Status"]

    state = wait(described, what="CloudFormation is working out the changes", timeout=timeout, out=out,
                 clock=clock, sleep=sleep)
    out.write("\r".ljust(60) + "\r")
    if state == "FAILED":
        reason = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name).get("StatusReason", "")
        if any(text in reason for text in NO_CHANGES):
            return discard(cfn, Plan(stack_name, name, kind, ()))
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
        raise UserError(f"CloudFormation refused the change: {reason}")
    described_changes, token = [], None
    while True:
        page = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name,
                                       **({"NextToken": token} if token else {}))
        described_changes += page.get("Changes", [])
        token = page.get("NextToken")
        if not token:
            break
    return Plan(stack_name, name, kind, changes_of(described_changes))


def upload_template(s3, *, bucket: str, region: str, body: str) -> str:
    """Put a template over CloudFormation's inline limit into `bucket` (made when missing: private,
    old templates expire), named by its content; return the URL CloudFormation reads it from."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise
        location = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **location)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
            "ID": "expire-templates", "Status": "Enabled", "Filter": {"Prefix": ""},
            "Expiration": {"Days": TEMPLATE_DAYS}}]})
    key = f"environment-{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def remove_templates(s3, bucket: str) -> bool:
    """Delete the templates bucket and what it holds; False when there is none."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        return False
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
    return True


def discard(cfn, plan: Plan) -> Plan:
    """Delete the change set; for a stack that was never created, the empty stack it made too."""
    from botocore.exceptions import ClientError

    with contextlib.suppress(ClientError):  # a failed "no changes" change set may be gone already
        cfn.delete_change_set(StackName=plan.stack_name, ChangeSetName=plan.change_set)
    if plan.kind == "CREATE" and stack_status(cfn, plan.stack_name) == "REVIEW_IN_PROGRESS":
        cfn.delete_stack(StackName=plan.stack_name)
    return plan


def events_since(cfn, stack_name: str, started: datetime) -> list[dict]:
    """The stack's events from `started` on, oldest first."""
    events, token = [], None
    while True:
        page = cfn.describe_stack_events(StackName=stack_name, **({"NextToken": token} if token else {}))
        batch = page.get("StackEvents", [])
        events += [event for event in batch if event["Timestamp"] >= started]
        token = page.get("NextToken")
        if not token or (batch and batch[-1]["Timestamp"] < started):
            break
    return sorted(events, key=lambda event: event["Timestamp"])


def follow(cfn, stack_name: str, *, started: datetime, timeout: float, out: TextIO = sys.stdout,
           clock: Clock = time.monotonic, sleep: Callable[[float], None] = time.sleep,
           stack_id: str | None = None) -> tuple[str, list[dict]]:
    """Print the stack's events as they come until it settles; its final status and the events."""
    seen: set[str] = set()
    events: list[dict] = []

    def settled() -> str | None:
        for event in events_since(cfn, stack_id or stack_name, started):
            if event["EventId"] not in seen:
                seen.add(event["EventId"])
                events.append(event)
                out.write("\r" + event_line(event, started) + "\n")
        status = stack_status(cfn, stack_id or stack_name) or "DELETE_COMPLETE"
        return None if status.endswith("_IN_PROGRESS") else status

    status = wait(settled, what=f"{stack_name}: waiting for CloudFormation", timeout=timeout, out=out,
                  clock=clock, sleep=sleep, interval=5)
    out.write("\r".ljust(60) + "\r")
    return status, events


def execute(cfn, plan: Plan, *, timeout: float, out: TextIO = sys.stdout, clock: Clock = time.monotonic,
            sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    """Execute the change set and follow it; the stack's outputs, or UserError saying what failed."""
    started = datetime.now(UTC).replace(microsecond=0)
    cfn.execute_change_set(StackName=plan.stack_name, ChangeSetName=plan.change_set)
    status, events = follow(cfn, plan.stack_name, started=started, timeout=timeout, out=out, clock=clock,
                            sleep=sleep)
    if status not in SETTLED:
        rolled_back = "ROLLBACK" in status
        raise UserError(f"{plan.stack_name} ended {status}: {failure_of(events)}."
                        + (" CloudFormation rolled the stack back to where it was." if rolled_back else ""))
    return outputs(cfn, plan.stack_name)


def outputs(cfn, stack_name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def teardown(cfn, rds, stack_name: str, *, timeout: float, out: TextIO = sys.stdout,
             clock: Clock = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    """Delete the stack. Its databases' deletion protection is lifted first, so that CloudFormation
    can delete them; their DeletionPolicy (Snapshot) keeps a final snapshot of each."""
    status = stack_status(cfn, stack_name)
    if status is None:
        raise UserError(f"There is no stack {stack_name}: nothing to remove.")
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise UserError(f"{stack_name} is {status}: wait until that ends, then run this again.")
    stack_id = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    resources = cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    for page in resources:
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::RDS::DBInstance" and resource.get("PhysicalResourceId"):
                out.write(f"lifting deletion protection of {resource['PhysicalResourceId']} "
                          f"(a final snapshot is kept)\n")
                rds.modify_db_instance(DBInstanceIdentifier=resource["PhysicalResourceId"],
                                       DeletionProtection=False, ApplyImmediately=True)
    started = datetime.now(UTC).replace(microsecond=0)
    cfn.delete_stack(StackName=stack_name)
    status, events = follow(cfn, stack_name, started=started, timeout=timeout, out=out, clock=clock,
                            sleep=sleep, stack_id=stack_id)
    if status != "DELETE_COMPLETE":
        raise UserError(f"{stack_name} ended {status}: {failure_of(events)}. Fix that, then run "
                        f"invoke aws.teardown again.")
