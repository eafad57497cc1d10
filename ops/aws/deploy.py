"""Deploying a version to an environment on AWS, and rolling it back: plan, act, verify.

A deploy holds the environment's lock, registers the Beanstalk application version, runs the
migrations once with the new image inside the VPC, updates the web and worker environments,
follows the rollout, and gates: both environments healthy on the new version, the new version
answering through the load balancer, then a bake time without 5xx. Any failure after the
environments were touched rolls both back to the version each ran before, by itself.
"""

from __future__ import annotations

import contextlib
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from ops.aws import beanstalk, history, migrations
from ops.aws.rollout import (
    DONE,
    WAITING,
    Answer,
    Bake,
    EnvironmentState,
    Event,
    Verdict,
    judge_answer,
    judge_bake,
    judge_rollout,
    not_recovered,
)
from ops.aws.target import Target
from ops.errors import UserError
from ops.waiting import poll

VERSION_HEADER = "X-App-Version"
PROBE_PATH = "/healthz"


@dataclass(frozen=True)
class Options:
    """Every wait's limit (invoke config deploy.*)."""

    timeout: float = 1800  # the rollout of both environments (Immutable: new instances, health checks)
    migrate_timeout: float = 1800  # the migrations run
    answer_timeout: float = 180  # the new version answering through the load balancer
    bake: float = 120  # watching 5xx after the gate
    interval: float = 10  # between polls
    max_5xx_percent: float = 1.0
    version_reads: int = 5  # answers in a row from the new version (the load balancer spreads them)
    http_timeout: float = 5
    report_every: float = 60  # a progress line at least this often while nothing changes

    @classmethod
    def from_config(cls, config) -> Options:
        return cls(**{name: type(getattr(cls, name))(value) for name, value in dict(config).items()
                      if name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Clients:
    eb: object
    s3: object
    ecr: object
    codebuild: object
    logs: object
    dynamodb: object


class DeployFailed(UserError):
    """A deploy or rollback that ended without its version serving: the message says what serves."""


def read_version(url: str, timeout: float) -> Answer:
    """GET the probe through the load balancer: its status and the version it reports."""
    if not url.startswith(("http://", "https://")):
        raise UserError(f"The environment's URL {url!r} is not an HTTP address: check the stack's Url "
                        "output.")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, above)
        url.rstrip("/") + PROBE_PATH, headers={"User-Agent": "invoke-deploy"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only, above)
            return Answer(response.status, response.headers.get(VERSION_HEADER))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers.get(VERSION_HEADER) if exc.headers else None)
    except (urllib.error.URLError, OSError) as exc:
        return Answer(None, None, str(getattr(exc, "reason", exc)))


def require_image(ecr, target: Target, tag: str) -> str:
    """The image's reference in the environment's repository; UserError when the tag is not there."""
    try:
        ecr.describe_images(repositoryName=target.repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        raise UserError(f"The image {target.repository}:{tag} is not in ECR: nothing was deployed. Push it "
                        f"first (invoke build --push on that commit), or pass --image with a tag that was "
                        f"pushed.") from None
    except ecr.exceptions.RepositoryNotFoundException:
        raise UserError(f"The ECR repository {target.repository} does not exist: run invoke aws.bootstrap "
                        f"first.") from None
    return f"{target.repository_uri}:{tag}"


def elapsed(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


class Deployer:
    """The deploy and rollback procedures for one environment, over clients a test can script."""

    def __init__(self, clients: Clients, target: Target, env: str, *, options: Options = Options(),
                 out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 read: Callable[[str, float], Answer] = read_version,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.clients, self.target, self.env, self.options = clients, target, env, options
        self.out, self.clock, self.sleep, self.read, self.now = out, clock, sleep, read, now
        self.seen_events: set[str] = set()

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    # --- reading -----------------------------------------------------------------------------

    def states(self) -> list[EnvironmentState]:
        return beanstalk.describe(self.clients.eb, self.target.environments)

    def new_events(self, since: datetime) -> list[Event]:
        events = beanstalk.events_since(self.clients.eb, self.target.application, since, self.seen_events)
        for event in events:
            self.say(event.line())
        return events

    def require_settled(self, states: list[EnvironmentState]) -> None:
        busy = [state for state in states if state.status != "Ready"]
        if busy:
            raise UserError("; ".join(f"the {state.role} environment is {state.status}" for state in busy)
                            + ": another change is under way (a deploy, a configuration update). Wait "
                            f"until it ends (invoke status --env {self.env}), then run this again. "
                            "Nothing was done.")

    # --- the gate ----------------------------------------------------------------------------

    def follow(self, versions: dict[str, str], since: datetime, started: float, *,
               judge: Callable[[list[EnvironmentState], list[Event]], Verdict] | None = None,
               timeout: float | None = None,
               what: str = "rollout") -> tuple[bool, Verdict, list[EnvironmentState]]:
        """Poll the environments and the events until `judge` settles or the timeout passes:
        (settled, the last verdict, the last states)."""
        judge = judge or (lambda states, events: judge_rollout(versions, states, events))
        timeout = self.options.timeout if timeout is None else timeout
        shown = {"line": "", "at": float("-inf")}
        latest: list[list[EnvironmentState]] = [[]]

        def attempt() -> Verdict:
            states = self.states()
            latest[0] = states
            events = self.new_events(since)
            line = " | ".join(state.line() for state in states)
            now = self.clock()
            if line != shown["line"] or now - shown["at"] >= self.options.report_every:
                self.say(f"{what} [{elapsed(now - started)}] {line}")
                shown.update(line=line, at=now)
            return judge(states, events)

        settled, verdict = poll(attempt, done=lambda verdict: verdict.settled, timeout=timeout,
                                interval=self.options.interval, clock=self.clock, sleep=self.sleep)
        return settled, verdict, latest[0]

    def answers(self, version: str) -> Verdict:
        """`version_reads` answers in a row from `version` through the load balancer."""
        good = [0]
        last: list[Answer] = []

        def attempt() -> Verdict:
            answer = self.read(self.target.url, self.options.http_timeout)
            last[:] = [answer]
            verdict = judge_answer(version, answer)
            if verdict.failure:
                return verdict
            good[0] = good[0] + 1 if verdict.done else 0
            return DONE if good[0] >= self.options.version_reads else WAITING

        settled, verdict = poll(attempt, done=lambda verdict: verdict.settled,
                                timeout=self.options.answer_timeout, interval=min(self.options.interval, 2),
                                clock=self.clock, sleep=self.sleep)
        if settled:
            if verdict.done:
                self.say(f"gate: {version} answers at {self.target.url} "
                         f"({self.options.version_reads} reads in a row)")
            return verdict
        answer = last[0] if last else Answer(None, None, "no answer")
        said = answer.error or f"status {answer.status}, version {answer.version or 'none'}"
        return Verdict(failure=f"{self.target.url}{PROBE_PATH} did not answer 200 from {version} within "
                               f"{self.options.answer_timeout:g}s (last: {said})")

    def bake(self, since: datetime, started: float) -> Verdict:
        """Watch the web environment's 5xx share, the health and the events for the bake time."""
        if self.options.bake <= 0:
            return DONE
        tally = Bake(self.options.max_5xx_percent)
        self.say(f"bake: watching 5xx answers and health for {self.options.bake:g}s")

        def judge(states: list[EnvironmentState], events: list[Event]) -> Verdict:
            verdict = judge_bake(states, events)
            if verdict.failure:
                return verdict
            return tally.add(*beanstalk.application_metrics(self.clients.eb, self.target.web))

        settled, verdict, _ = self.follow({}, since, started, judge=judge, timeout=self.options.bake,
                                          what="bake")
        if settled:
            return verdict
        self.say(f"bake: {tally.summary()}")  # the bake time passed without a failure
        return DONE

    def gate(self, versions: dict[str, str], since: datetime, started: float, *, bake: bool = True,
             events_fail: bool = True, what: str = "rollout") -> Verdict:
        """The environments Ready and Green on their versions, the web version answering, then the
        bake time. `events_fail`: an error event fails the rollout (not while rolling back, when
        the abandoned update's own errors may still arrive; the versions and health decide)."""
        settled, verdict, states = self.follow(
            versions, since, started, what=what,
            judge=lambda states, events: judge_rollout(versions, states, events if events_fail else []))
        if not settled:
            return Verdict(failure=not_recovered(states, self.options.timeout))
        if verdict.failure:
            return verdict
        self.say(f"{what}: web and worker are Ready and Green on {versions['web']}")
        verdict = self.answers(versions["web"])
        if verdict.failure or not bake:
            return verdict
        return self.bake(since, started)

    # --- acting ------------------------------------------------------------------------------

    def update(self, versions: dict[str, str], states: list[EnvironmentState]) -> None:
        for state in states:
            if state.version != versions[state.role]:
                self.say(f"updating {state.role} ({state.name}) to {versions[state.role]}")
                beanstalk.update(self.clients.eb, state.name, versions[state.role])

    def restore(self, previous: dict[str, str | None], since: datetime, started: float) -> str | None:
        """Roll both environments back to `previous` and wait until they serve it healthily; the
        reason when that fails, None when it worked."""
        if not all(previous.values()):
            return "there is no earlier version to roll back to (this was the environment's first deploy)"
        states = self.states()
        for state in states:
            if state.status == "Updating":
                self.say(f"rollback: aborting the update of {state.role} ({state.name})")
                self.clients.eb.abort_environment_update(EnvironmentName=state.name)
        settled, _, states = self.follow({}, since, started, what="rollback",
                                         judge=lambda states, events: DONE if all(
                                             state.status == "Ready" for state in states) else WAITING)
        if not settled:
            return f"the environments did not return to Ready within {self.options.timeout:g}s"
        versions = {role: version for role, version in previous.items() if version}
        self.update(versions, states)
        return self.gate(versions, since, started, bake=False, events_fail=False, what="rollback").failure

    @contextlib.contextmanager
    def interruptible(self, record: history.Record, what: str) -> Iterator[None]:
        """Ctrl-C stops the following, not what Beanstalk or CodeBuild started: say so, and record it."""
        try:
            yield
        except KeyboardInterrupt:
            history.finish(self.clients.dynamodb, self.target.deploy_table, self.env, record, "interrupted")
            raise DeployFailed(f"Interrupted: {what} is no longer followed here, and what AWS started goes "
                               f"on. Look at invoke status --env {self.env}; invoke rollback --env "
                               f"{self.env} goes back once it has settled.") from None

    def deploy(self, *, version: str, image: str, dockerrun: dict, by: str, allow_breaking: bool = False,
               break_lock: bool = False) -> None:
        """Deploy `version` (the image `image`, described by `dockerrun`); DeployFailed when it did
        not end serving, saying what serves instead."""
        clients, target = self.clients, self.target
        started, since = self.clock(), self.now()
        self.say(f"deploying {version} to {self.env} ({target.stack}): {image}")
        with history.locked(clients.dynamodb, target.deploy_table, self.env, by=by,
                            action=f"deploy {version}", break_lock=break_lock, out=self.out):
            self.say(f"lock: {self.env} is held by this deploy ({by})")
            states = self.states()
            self.require_settled(states)
            previous = {state.role: state.version for state in states}
            registered = beanstalk.register_version(
                clients.eb, clients.s3, application=target.application, label=version, dockerrun=dockerrun,
                description=f"{image} by {by}")
            self.say(f"version {version}: {'registered' if registered else 'already registered'}")
            record = history.start(clients.dynamodb, target.deploy_table, self.env, action="deploy",
                                   version=version, by=by)
            with self.interruptible(record, f"the deploy of {version}"):
                outcome = migrations.run(clients.codebuild, clients.logs, project=target.migrate_project,
                                         image=image, allow_breaking=allow_breaking,
                                         timeout=self.options.migrate_timeout, interval=self.options.interval,
                                         out=self.out, clock=self.clock, sleep=self.sleep)
                if not outcome.succeeded:
                    serving = ", ".join(f"{role} still runs {running or 'no version'}"
                                        for role, running in previous.items())
                    what = (f"did not finish within {self.options.migrate_timeout:g}s "
                            "(it goes on in CodeBuild)"
                            if outcome.status == "RUNNING" else f"ended {outcome.status}")
                    history.finish(clients.dynamodb, target.deploy_table, self.env, record, "failed",
                                   f"migrations {what}")
                    log = "".join(f"\n  | {line}" for line in outcome.log)
                    raise DeployFailed(
                        f"The migrations of {version} {what} (build {outcome.build_id}); nothing was rolled "
                        f"out: "
                        f"{serving}. Read the run's log with invoke logs --env {self.env} --role migrate."
                        + (f" Its last lines:{log}" if log else ""))
                self.say("migrations: done")
                self.update({role: version for role in previous}, states)
                verdict = self.gate({role: version for role in previous}, since, started)
                if verdict.done:
                    history.finish(clients.dynamodb, target.deploy_table, self.env, record, "succeeded")
                    self.say(f"deployed {version} to {self.env} in {elapsed(self.clock() - started)}")
                    return
                self.say(f"failed: {verdict.failure}; rolling back")
                problem = self.restore(previous, since, started)
                back = ", ".join(f"{role} {version}" for role, version in previous.items())
                reason = (verdict.failure or "").rstrip(".")
                if problem is None:
                    history.finish(clients.dynamodb, target.deploy_table, self.env, record, "rolled back",
                                   verdict.failure or "")
                    raise DeployFailed(f"The deploy of {version} failed: {reason}. It was rolled back: "
                                       f"{back}, healthy again.")
                history.finish(clients.dynamodb, target.deploy_table, self.env, record, "failed",
                               f"{verdict.failure}; rollback: {problem}")
                raise DeployFailed(f"The deploy of {version} failed: {reason}. The rollback to {back} "
                                   f"failed too: {problem}. Look at invoke status --env {self.env} and the "
                                   f"environments' events in the Beanstalk console.")

    def rollback(self, *, to: str | None, by: str, break_lock: bool = False) -> str:
        """Roll both environments to `to` (default: the last version a deploy left serving before
        the current one), through the same gate; the version now serving."""
        clients, target = self.clients, self.target
        started, since = self.clock(), self.now()
        with history.locked(clients.dynamodb, target.deploy_table, self.env, by=by, action="rollback",
                            break_lock=break_lock, out=self.out):
            states = self.states()
            self.require_settled(states)
            current = {state.role: state.version for state in states}
            version = to or history.last_good(clients.dynamodb, target.deploy_table, self.env,
                                              other_than=current["web"])
            if not version:
                recent = ", ".join(beanstalk.recent_versions(clients.eb, target.application)) or "none"
                raise UserError(f"No earlier version of {self.env} is on record to roll back to: name one "
                                f"with --to (recent: {recent}).")
            if not beanstalk.version_exists(clients.eb, target.application, version):
                known = ", ".join(beanstalk.recent_versions(clients.eb, target.application)) or "none"
                raise UserError(f"{version} is not an application version of {target.application}: "
                                f"nothing was done. Recent versions: {known}.")
            self.say(f"rolling {self.env} back to {version} "
                     f"(web runs {current['web']}, worker {current['worker']})")
            record = history.start(clients.dynamodb, target.deploy_table, self.env, action="rollback",
                                   version=version, by=by)
            with self.interruptible(record, f"the rollback to {version}"):
                versions = {role: version for role in current}
                self.update(versions, states)
                verdict = self.gate(versions, since, started)
                if verdict.failure:
                    history.finish(clients.dynamodb, target.deploy_table, self.env, record, "failed",
                                   verdict.failure)
                    reason = verdict.failure.rstrip(".")
                    raise DeployFailed(f"The rollback to {version} failed: {reason}. Look at "
                                       f"invoke status --env {self.env}; roll on to a version that works "
                                       f"with invoke rollback --to.")
                history.finish(clients.dynamodb, target.deploy_table, self.env, record, "succeeded")
                self.say(f"rolled {self.env} back to {version} in {elapsed(self.clock() - started)}")
                return version
