"""The deploy lock and the deploy history of an environment, in the stack's DynamoDB table.

One item (Entry "lock") is the lock: a conditional put takes it, so two deploys of one environment
(a person's, the pipeline's) cannot both hold it. The other items (Entry "deploy#<time>") record
each deploy or rollback: who, what, when, and how it ended.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ops.errors import UserError

LOCK = "lock"
DEPLOY_PREFIX = "deploy#"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def who(environ: Mapping[str, str] = os.environ) -> str:
    """Who deploys: the pipeline's build, else the git user (or the login) and the machine."""
    if environ.get("CODEBUILD_BUILD_ID"):
        initiator = environ.get("CODEBUILD_INITIATOR", "codebuild")
        return f"{initiator} (build {environ['CODEBUILD_BUILD_ID']})"
    try:
        email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True,
                               timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return f"{email or getpass.getuser()} on {socket.gethostname()}"


@dataclass(frozen=True)
class Holder:
    who: str
    since: str
    action: str
    token: str

    def describe(self) -> str:
        return f"{self.who}, since {self.since} ({self.action})"


def holder(table_client, table: str, env: str) -> Holder | None:
    item = table_client.get_item(TableName=table, Key=key(env, LOCK), ConsistentRead=True).get("Item")
    if not item:
        return None
    return Holder(item["Who"]["S"], item["Since"]["S"], item.get("Action", {}).get("S", "deploy"),
                  item["Token"]["S"])


def key(env: str, entry: str) -> dict:
    return {"Environment": {"S": env}, "Entry": {"S": entry}}


@contextlib.contextmanager
def locked(dynamodb, table: str, env: str, *, by: str, action: str, break_lock: bool = False,
           out=None) -> Iterator[Holder]:
    """Hold the environment's deploy lock for the block; UserError naming the holder when another
    has it. `break_lock` removes a lock left behind (a deploy killed before it could let go)."""
    if break_lock:
        stale = holder(dynamodb, table, env)
        if stale:
            dynamodb.delete_item(TableName=table, Key=key(env, LOCK))
            if out:
                out.write(f"broke the deploy lock of {env} held by {stale.describe()}\n")
    mine = Holder(by, now(), action, uuid.uuid4().hex)
    try:
        dynamodb.put_item(
            TableName=table,
            Item={**key(env, LOCK), "Who": {"S": mine.who}, "Since": {"S": mine.since},
                  "Action": {"S": action}, "Token": {"S": mine.token}},
            ConditionExpression="attribute_not_exists(#entry)", ExpressionAttributeNames={"#entry": "Entry"})
    except dynamodb.exceptions.ConditionalCheckFailedException:
        other = holder(dynamodb, table, env)
        held = other.describe() if other else "another deploy that has just ended"
        raise UserError(f"{env} is being deployed by {held}: nothing was done. Wait until it ends "
                        f"(invoke status --env {env}); if that deploy was killed and left its lock, "
                        f"break it: --break-lock.") from None
    try:
        yield mine
    finally:
        with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.delete_item(TableName=table, Key=key(env, LOCK), ConditionExpression="#token = :token",
                                 ExpressionAttributeNames={"#token": "Token"},
                                 ExpressionAttributeValues={":token": {"S": mine.token}})


@dataclass(frozen=True)
class Record:
    entry: str
    action: str
    version: str
    who: str
    started: str
    outcome: str = "running"
    finished: str = ""
    detail: str = ""

    def line(self) -> str:
        ended = f" -> {self.outcome}" + (f" at {self.finished}" if self.finished else "")
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.started} {self.action} {self.version} by {self.who}{ended}{detail}"


def start(dynamodb, table: str, env: str, *, action: str, version: str, by: str) -> Record:
    started = now()
    # Sorted by the entry: microseconds keep two records of one second in their order.
    entry = f"{DEPLOY_PREFIX}{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}#{uuid.uuid4().hex[:6]}"
    record = Record(entry, action, version, by, started)
    dynamodb.put_item(TableName=table, Item={
        **key(env, record.entry), "Action": {"S": action}, "Version": {"S": version}, "Who": {"S": by},
        "Started": {"S": started}, "Outcome": {"S": record.outcome}})
    return record


def finish(dynamodb, table: str, env: str, record: Record, outcome: str, detail: str = "") -> None:
    dynamodb.update_item(
        TableName=table, Key=key(env, record.entry),
        UpdateExpression="SET #outcome = :outcome, #finished = :finished, #detail = :detail",
        ExpressionAttributeNames={"#outcome": "Outcome", "#finished": "Finished", "#detail": "Detail"},
        ExpressionAttributeValues={":outcome": {"S": outcome}, ":finished": {"S": now()},
                                   ":detail": {"S": detail[:1000]}})


def recent(dynamodb, table: str, env: str, limit: int = 5) -> list[Record]:
    """The last deploys and rollbacks, newest first."""
    items = dynamodb.query(
        TableName=table, KeyConditionExpression="#env = :env AND begins_with(#entry, :prefix)",
        ExpressionAttributeNames={"#env": "Environment", "#entry": "Entry"},
        ExpressionAttributeValues={":env": {"S": env}, ":prefix": {"S": DEPLOY_PREFIX}},
        ScanIndexForward=False, Limit=limit)["Items"]
    return [Record(item["Entry"]["S"], item["Action"]["S"], item["Version"]["S"], item["Who"]["S"],
                   item["Started"]["S"], item["Outcome"]["S"], item.get("Finished", {}).get("S", ""),
                   item.get("Detail", {}).get("S", "")) for item in items]


def last_good(dynamodb, table: str, env: str, *, other_than: str | None, limit: int = 50) -> str | None:
    """The newest version that a deploy or rollback left serving, other than `other_than`."""
    for record in recent(dynamodb, table, env, limit):
        if record.outcome == "succeeded" and record.version != other_than:
            return record.version
    return None
