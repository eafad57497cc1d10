"""A deploy's migrations: one run of the stack's migrations project (CodeBuild, inside the VPC)
with the image being deployed. Its buildspec, in aws/environment.yml, runs the image's own
`invoke migrate --lint`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from ops.waiting import poll

RUNNING = "IN_PROGRESS"
LOG_LINES = 25


@dataclass(frozen=True)
class Outcome:
    status: str  # SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT, or RUNNING when the wait gave up
    build_id: str
    log: list[str]

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


def log_tail(logs, build: dict, lines: int = LOG_LINES) -> list[str]:
    """The last lines the build wrote to CloudWatch Logs (none when it wrote nowhere yet)."""
    where = build.get("logs", {})
    group, stream = where.get("groupName"), where.get("streamName")
    if not (group and stream):
        return []
    try:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=lines,
                                     startFromHead=False)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"].rstrip("\n") for event in events]


def run(codebuild, logs, *, project: str, image: str, allow_breaking: bool, timeout: float,
        interval: float = 10, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Start the migrations with `image`, follow the run to its end (or `timeout`), return how it ended."""
    variables = ([{"name": "ALLOW_BREAKING_MIGRATIONS", "value": "true", "type": "PLAINTEXT"}]
                 if allow_breaking else [])
    build = codebuild.start_build(projectName=project, imageOverride=image,
                                  imagePullCredentialsTypeOverride="SERVICE_ROLE",
                                  environmentVariablesOverride=variables)["build"]
    build_id = build["id"]
    out.write(f"migrations: build {build_id} with {image}\n")
    last_phase, changed = [""], [False]

    def current() -> dict:
        found = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        phase = found.get("currentPhase", "")
        changed[0] = phase != last_phase[0]
        if changed[0]:
            last_phase[0] = phase
            out.write(f"  migrations: {phase.lower().replace('_', ' ')}\n")
        return found

    def progress(elapsed: float) -> None:
        if not changed[0]:  # a line at least every poll: the run is alive, and for how long
            out.write(f"  migrations: still {last_phase[0].lower().replace('_', ' ') or 'starting'}, "
                      f"{elapsed:.0f}s\n")

    finished, found = poll(current, done=lambda found: found["buildStatus"] != RUNNING, timeout=timeout,
                           interval=interval, on_wait=progress, clock=clock, sleep=sleep)
    status = found["buildStatus"] if finished else "RUNNING"
    return Outcome(status, build_id, log_tail(logs, found) if status != "SUCCEEDED" else [])
