"""The Elastic Beanstalk calls of a deploy: versions, updates, and reading environments.

Each function makes the calls and returns ops.aws.rollout's values; what they mean is decided
there.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

from ops.aws.rollout import EnvironmentState, Event
from ops.envvars import REPOSITORY
from ops.errors import UserError

ARTIFACT_NAME = "Dockerrun.aws.json"
# The platform's own configuration, bundled with every version as .platform/ (its nginx).
PLATFORM = REPOSITORY / "aws" / "platform"


def describe(eb, environments: dict[str, str]) -> list[EnvironmentState]:
    """The environments (role -> name), with their instances' health where enhanced health runs."""
    found = {item["EnvironmentName"]: item for item in eb.describe_environments(
        EnvironmentNames=list(environments.values()), IncludeDeleted=False)["Environments"]}
    states = []
    for role, name in environments.items():
        if name not in found:
            raise UserError(f"The {role} environment {name} does not exist in Elastic Beanstalk: create it "
                            "with invoke aws.bootstrap, then deploy.")
        item = found[name]
        health = eb.describe_environment_health(EnvironmentName=name,
                                                AttributeNames=["HealthStatus", "InstancesHealth"])
        states.append(EnvironmentState(
            role=role, name=name, status=item["Status"], health=item.get("Health", "Grey"),
            version=item.get("VersionLabel"), health_status=health.get("HealthStatus"),
            instances={key: value for key, value in health.get("InstancesHealth", {}).items() if value}))
    return states


def events_since(eb, application: str, since: datetime, seen: set[str]) -> list[Event]:
    """The application's events since `since`, oldest first, each once (`seen` remembers them)."""
    items = eb.describe_events(ApplicationName=application, StartTime=since, MaxRecords=100)["Events"]
    new = []
    for item in sorted(items, key=lambda item: item["EventDate"]):
        key = f"{item['EventDate'].isoformat()}|{item.get('EnvironmentName')}|{item['Message']}"
        if key not in seen:
            seen.add(key)
            new.append(Event(item["EventDate"], item.get("Severity", "INFO"), item.get("EnvironmentName"),
                             item["Message"]))
    return new


def application_metrics(eb, environment: str) -> tuple[int, int]:
    """The web environment's requests and 5xx answers in Beanstalk's last metrics window (10 s)."""
    metrics = eb.describe_environment_health(
        EnvironmentName=environment, AttributeNames=["ApplicationMetrics"]).get("ApplicationMetrics", {})
    return int(metrics.get("RequestCount", 0)), int(metrics.get("StatusCodes", {}).get("Status5xx", 0))


def bundle(dockerrun: dict, platform: Path = PLATFORM) -> bytes:
    """The application version's source bundle: a zip holding Dockerrun.aws.json at its root and
    aws/platform/ as .platform/ (the instances' nginx configuration)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(ARTIFACT_NAME, json.dumps(dockerrun, indent=2) + "\n")
        for path in sorted(platform.rglob("*")):
            if path.is_file():
                archive.write(path, f".platform/{path.relative_to(platform).as_posix()}")
    return buffer.getvalue()


def version_exists(eb, application: str, label: str) -> bool:
    return bool(eb.describe_application_versions(ApplicationName=application,
                                                 VersionLabels=[label])["ApplicationVersions"])


def register_version(eb, s3, *, application: str, label: str, dockerrun: dict, description: str) -> bool:
    """Register the application version `label` from its Dockerrun.aws.json, uploaded to Beanstalk's
    own bucket (the instances read bundles there); False when it was already registered."""
    if version_exists(eb, application, label):
        return False
    bucket = eb.create_storage_location()["S3Bucket"]
    key = f"{application}/{label}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=bundle(dockerrun))
    eb.create_application_version(ApplicationName=application, VersionLabel=label,
                                  Description=description[:200],
                                  SourceBundle={"S3Bucket": bucket, "S3Key": key}, Process=False)
    return True


def update(eb, environment: str, label: str) -> None:
    eb.update_environment(EnvironmentName=environment, VersionLabel=label)


def recent_versions(eb, application: str, limit: int = 10) -> list[str]:
    versions = eb.describe_application_versions(ApplicationName=application, MaxRecords=limit)
    return [item["VersionLabel"] for item in sorted(versions["ApplicationVersions"],
                                                    key=lambda item: item["DateCreated"], reverse=True)]
