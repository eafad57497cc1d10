"""Reading a rollout: what Beanstalk and the load balancer report, and what that means.

No calls here: ops/aws/beanstalk.py reads AWS into these values, ops/aws/deploy.py acts on the
verdicts, and tests drive this with scripted sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

FAILING_SEVERITIES = {"ERROR", "FATAL"}
# Beanstalk's instance health counters, in the order they are shown.
INSTANCE_STATES = ("Ok", "Info", "Warning", "Degraded", "Severe", "Pending", "Unknown", "NoData")


@dataclass(frozen=True)
class EnvironmentState:
    """One Beanstalk environment as describe_environments and its enhanced health report it."""

    role: str
    name: str
    status: str  # Launching, Updating, Ready, Terminating, Terminated
    health: str  # Green, Yellow, Red, Grey
    version: str | None
    health_status: str | None = None  # Ok, Info, Warning, Degraded, Severe, ...
    instances: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.status == "Ready" and self.health == "Green"

    def line(self) -> str:
        counts = ", ".join(f"{self.instances[state]} {state.lower()}" for state in INSTANCE_STATES
                           if self.instances.get(state))
        health = f"{self.health}" + (f" ({self.health_status})" if self.health_status else "")
        return (f"{self.role} {self.status}, {health}, version {self.version or 'none'}"
                + (f", instances: {counts}" if counts else ""))


@dataclass(frozen=True)
class Event:
    when: datetime
    severity: str
    environment: str | None
    message: str

    def line(self) -> str:
        where = f" {self.environment}" if self.environment else ""
        return f"  {self.when:%H:%M:%S} {self.severity:<5}{where}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    """Done (the rollout reached what it waits for), failed (and why), or neither yet."""

    done: bool = False
    failure: str | None = None

    @property
    def settled(self) -> bool:
        return self.done or self.failure is not None


WAITING = Verdict()
DONE = Verdict(done=True)


def failed(reason: str) -> Verdict:
    return Verdict(failure=reason)


def judge_rollout(versions: Mapping[str, str], states: Iterable[EnvironmentState],
                  events: Iterable[Event]) -> Verdict:
    """Every environment Ready, Green and on its version (`versions`: role -> version): done. An
    error event, or an environment back to Ready on another version (Beanstalk gave the update
    up): failed."""
    for event in events:
        if event.severity in FAILING_SEVERITIES:
            where = f" on {event.environment}" if event.environment else ""
            return failed(f"Beanstalk reported an error{where}: {event.message}")
    states = list(states)
    for state in states:
        if state.status in {"Terminating", "Terminated"}:
            return failed(f"the {state.role} environment is {state.status}")
        if state.status == "Ready" and state.version != versions[state.role]:
            return failed(f"the {state.role} environment ended the update on "
                          f"{state.version or 'no version'}, not {versions[state.role]}")
    if all(state.healthy and state.version == versions[state.role] for state in states):
        return DONE
    return WAITING


def not_recovered(states: Iterable[EnvironmentState], timeout: float) -> str:
    """Why a rollout that did not settle before its timeout failed."""
    stuck = [state.line() for state in states if not state.healthy]
    return (f"the environments were not healthy within {timeout:g}s" +
            (f" ({'; '.join(stuck)})" if stuck else ""))


@dataclass(frozen=True)
class Answer:
    """What the service answered through the load balancer: a status and the version it reports."""

    status: int | None
    version: str | None
    error: str | None = None


def judge_answer(version: str, answer: Answer) -> Verdict:
    """A 200 from `version`: good. Another version answering: failed at once (the old code still
    serves). No answer or another status: neither (the caller retries until its timeout)."""
    if answer.status == 200 and answer.version == version:
        return DONE
    if answer.status == 200 and answer.version != version:
        return failed(f"version {answer.version or 'unknown'} answered through the load balancer, "
                      f"not {version}")
    return WAITING


@dataclass
class Bake:
    """The web environment's requests and 5xx answers, summed over the bake time."""

    max_5xx_percent: float
    requests: int = 0
    errors: int = 0

    def add(self, requests: int, errors: int) -> Verdict:
        self.requests += requests
        self.errors += errors
        if self.errors and self.percent > self.max_5xx_percent:
            return failed(f"{self.errors} of {self.requests} requests answered 5xx in the bake time "
                          f"({self.percent:.1f}%, more than {self.max_5xx_percent:g}%)")
        return WAITING

    @property
    def percent(self) -> float:
        return 100.0 * self.errors / self.requests if self.requests else 100.0

    def summary(self) -> str:
        return f"{self.requests} requests, {self.errors} answered 5xx"


def judge_bake(states: Iterable[EnvironmentState], events: Iterable[Event]) -> Verdict:
    """During the bake, an error event or an environment that turns Red or leaves Ready fails."""
    for event in events:
        if event.severity in FAILING_SEVERITIES:
            return failed(f"Beanstalk reported an error during the bake time: {event.message}")
    for state in states:
        if state.status != "Ready" or state.health == "Red":
            return failed(f"the {state.role} environment turned {state.status}, {state.health} "
                          "in the bake time")
    return WAITING
