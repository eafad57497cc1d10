"""An environment's logs in CloudWatch Logs, printed as `aws logs tail` prints them: one line per
event, oldest first, and with `follow` the new events as they come, each printed once."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from ops.errors import UserError

ROLES = ("web", "worker", "migrate")
POLL_SECONDS = 2.0
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SINCE_FORMS = "a whole number and a unit: s, m, h or d (30s, 10m, 2h, 1d)"
# CodeBuild names a build's stream by the build's UUID: its first 8 characters tell builds apart.
BUILD_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def parse_since(text: str) -> int:
    """`--since` in seconds: 30s, 10m, 2h, 1d; UserError naming the accepted forms otherwise."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise UserError(f"--since {text!r} is not a duration: write {SINCE_FORMS}.")
    return int(match.group(1)) * SINCE_UNITS[match.group(2)]


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"Unknown role {role!r}. Choose one of: {', '.join(ROLES)}")
    return role


def stream_label(stream: str) -> str:
    """A stream's short name: Beanstalk's are instance ids (i-0abc...), CodeBuild's a build's UUID."""
    name = stream.rsplit("/", 1)[-1]
    return name[:8] if BUILD_ID.match(name) else name


def event_line(event: dict) -> str:
    """`<UTC time> <stream> <message>`, the time to the millisecond CloudWatch keeps."""
    seconds, milliseconds = divmod(event["timestamp"], 1000)
    moment = datetime.fromtimestamp(seconds, UTC)
    message = event["message"].rstrip("\r\n")
    return (f"{moment:%Y-%m-%dT%H:%M:%S}.{milliseconds:03}Z "
            f"{stream_label(event['logStreamName'])} {message}")


def require_group(logs, group: str, *, env: str, role: str) -> None:
    """UserError when the log group does not exist: nothing has run there yet."""
    found = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group)
    if not any(item["logGroupName"] == group for page in found for item in page.get("logGroups", [])):
        why = ("the migrations have not run on AWS yet" if role == "migrate"
               else f"nothing has been deployed to the {role} role yet")
        raise UserError(f"{env} has no {role} logs yet: the log group {group} does not exist ({why}).")


def fetch(logs, group: str, *, start: int, page_size: int | None = None) -> list[dict]:
    """Every event of the group from `start` (milliseconds since the epoch, inclusive) on, all pages
    of them, oldest first (a stable sort: events of one millisecond keep the order AWS gave)."""
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, startTime=start, **({"PaginationConfig": {"PageSize": page_size}}
                                                if page_size else {}))
    events = [event for page in pages for event in page.get("events", [])]
    return sorted(events, key=lambda event: event["timestamp"])


@dataclass(frozen=True)
class Cursor:
    """Where the next poll starts: the newest timestamp printed, and the ids of the events printed at
    it (the next poll asks from that timestamp again, as one millisecond may hold more events)."""

    start: int
    seen: frozenset[str] = frozenset()

    def unseen(self, events: Iterable[dict]) -> list[dict]:
        return [event for event in events if event["eventId"] not in self.seen]

    def after(self, printed: list[dict]) -> Cursor:
        """The cursor once `printed` (oldest first, all at or after `start`) are printed."""
        if not printed:
            return self
        newest = printed[-1]["timestamp"]
        ids = {event["eventId"] for event in printed if event["timestamp"] == newest}
        return Cursor(newest, frozenset(ids | self.seen if newest == self.start else ids))


def print_new(logs, group: str, cursor: Cursor, *, out: TextIO = sys.stdout) -> Cursor:
    """Print the events from the cursor on that it has not printed; the cursor past them."""
    new = cursor.unseen(fetch(logs, group, start=cursor.start))
    for event in new:
        out.write(event_line(event) + "\n")
    out.flush()
    return cursor.after(new)


def tail(logs, group: str, *, since: int, follow: bool = False, out: TextIO = sys.stdout,
         interval: float = POLL_SECONDS, now: Callable[[], float] = time.time,
         sleep: Callable[[float], None] = time.sleep) -> None:
    """Print the group's events of the last `since` seconds; with `follow`, then poll every
    `interval` seconds for new ones until Ctrl-C, which ends it quietly.

    As with `aws logs tail`, a poll starts at the newest timestamp printed: an event that reaches
    CloudWatch after a newer one of another stream was printed is not shown."""
    cursor = Cursor(max(0, int((now() - since) * 1000)))
    try:
        cursor = print_new(logs, group, cursor, out=out)
        while follow:
            sleep(interval)
            cursor = print_new(logs, group, cursor, out=out)
    except KeyboardInterrupt:
        out.flush()
