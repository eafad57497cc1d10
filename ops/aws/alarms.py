"""`invoke aws.alarms`: the state of an environment's CloudWatch alarms, those its stack declares.

The stack's own template (as CloudFormation holds it, not the checkout's) names the alarms:
each AWS::CloudWatch::Alarm's AlarmName, with the stack's parameter values put in. Matching a
name prefix instead would also take in the alarms of an environment whose name extends this one
(production and production-eu), and CloudFormation's resource list alone does not say which
alarms are missing from CloudWatch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ops.errors import UserError

ALARM_TYPE = "AWS::CloudWatch::Alarm"
STATES = ("ALARM", "INSUFFICIENT_DATA", "OK")
MISSING = "MISSING"
REASON_WIDTH = 70
COMPARISONS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
SUBSTITUTION = re.compile(r"\$\{([\w:]+)\}")


@dataclass(frozen=True)
class Declared:
    """An alarm the stack's template declares."""

    name: str
    conditional: bool  # under a Condition: it may rightly be absent


@dataclass(frozen=True)
class Alarm:
    """An alarm as CloudWatch describes it, in the words the table shows."""

    name: str
    state: str
    since: datetime
    reason: str
    threshold: str

    @classmethod
    def from_described(cls, described: dict) -> Alarm:
        since = described.get("StateTransitionedTimestamp") or described["StateUpdatedTimestamp"]
        return cls(described["AlarmName"], described["StateValue"], since,
                   " ".join((described.get("StateReason") or "").split()), threshold_text(described))


@dataclass(frozen=True)
class Report:
    """The stack's alarms as found, and the declared ones CloudWatch does not have."""

    stack: str
    env: str
    alarms: tuple[Alarm, ...]
    missing: tuple[str, ...]

    def short(self, name: str) -> str:
        return name.removeprefix(f"{self.stack}-")

    def table(self, now: datetime) -> str:
        """A header, one aligned row per alarm (name, state, since, threshold, reason; the worst
        states first), and a count by state."""
        rows = [("NAME", "STATE", "SINCE", "THRESHOLD", "REASON")]
        for alarm in sorted(self.alarms, key=lambda alarm: (STATES.index(alarm.state)
                                                             if alarm.state in STATES else 0, alarm.name)):
            rows.append((self.short(alarm.name), alarm.state,
                         f"{alarm.since:%Y-%m-%d %H:%M} UTC ({age(now - alarm.since)} ago)",
                         alarm.threshold, shortened(alarm.reason, REASON_WIDTH)))
        for name in self.missing:
            rows.append((self.short(name), MISSING, "-", "-",
                         f"not in CloudWatch: invoke aws.bootstrap --env {self.env} makes it again"))
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
        lines = [f"alarms of {self.stack} (named {self.stack}-NAME):"]
        lines += ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)),
                             row[-1]]).rstrip() for row in rows]  # the reason, last, is not padded
        counts = {state: sum(alarm.state == state for alarm in self.alarms) for state in STATES}
        summary = ", ".join(f"{count} {state}" for state, count in counts.items() if count)
        if self.missing:
            summary += f"{', ' if summary else ''}{len(self.missing)} {MISSING}"
        lines.append(f"{len(self.alarms) + len(self.missing)} alarms: {summary or 'none declared'}")
        return "\n".join(lines)

    def attention(self, *, now: datetime, grace: timedelta) -> list[str]:
        """What `--check` fails on: an alarm in ALARM; one in INSUFFICIENT_DATA for longer than
        `grace` (a new alarm waits for its first data; after that, no data means its metric is not
        arriving and the alarm is blind); a declared alarm missing from CloudWatch."""
        found = []
        for alarm in self.alarms:
            if alarm.state == "ALARM":
                found.append(f"{self.short(alarm.name)} is in ALARM since {alarm.since:%Y-%m-%d %H:%M} UTC: "
                             f"{alarm.threshold}")
            elif alarm.state == "INSUFFICIENT_DATA" and now - alarm.since > grace:
                found.append(f"{self.short(alarm.name)} has had no data for {age(now - alarm.since)}: its "
                             f"metric is not arriving, so it cannot fire")
        found += [f"{self.short(name)} is missing from CloudWatch" for name in self.missing]
        return found


def read(cfn, cloudwatch, stack: str, env: str) -> Report:
    """The alarms `stack` declares, as CloudWatch holds them; UserError when there is no stack."""
    declared = declared_alarms(cfn, stack, env)
    found = {alarm.name: alarm for alarm in describe(cloudwatch, [alarm.name for alarm in declared])}
    missing = tuple(alarm.name for alarm in declared if alarm.name not in found and not alarm.conditional)
    return Report(stack, env, tuple(found.values()), missing)


def declared_alarms(cfn, stack: str, env: str) -> list[Declared]:
    """The alarms of the stack's template, named with the stack's parameter values."""
    from botocore.exceptions import ClientError

    try:
        [description] = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
        raise UserError(f"{env} has no stack on AWS yet ({stack}), so no alarms: create it with "
                        f"invoke aws.bootstrap --env {env}.") from None
    values = {parameter["ParameterKey"]: parameter.get("ResolvedValue", parameter["ParameterValue"])
              for parameter in description.get("Parameters", [])}
    values |= {"AWS::StackName": stack}
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    template = body if isinstance(body, dict) else parse_template(body)
    return alarms_of(template, values)


def parse_template(body: str) -> dict:
    """A template as CloudFormation returns it: JSON (as the bootstrap task sends it) or YAML."""
    try:
        return json.loads(body)
    except ValueError:
        import yaml

        return yaml.safe_load(body)


def alarms_of(template: dict, values: dict[str, str]) -> list[Declared]:
    """Each AWS::CloudWatch::Alarm of `template`, its AlarmName resolved with `values`."""
    declared = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != ALARM_TYPE:
            continue
        name = resolved(resource.get("Properties", {}).get("AlarmName"), values)
        if name is None:
            raise UserError(f"The stack's alarm {logical_id} has no AlarmName this task can read (a "
                            f"text, a Ref to a parameter, or an Fn::Sub of parameters): give it one "
                            f"in aws/environment.yml, such as "
                            f'{{"Fn::Sub": "${{ProjectName}}-${{EnvironmentName}}-<what>"}}.')
        declared.append(Declared(name, "Condition" in resource))
    return declared


def resolved(value: object, values: dict[str, str]) -> str | None:
    """A name written as text, {"Ref": parameter} or {"Fn::Sub": "...${parameter}..."}; None for
    any other form, or a parameter without a value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return values.get(value["Ref"])
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        text = value["Fn::Sub"]
        if any(name not in values for name in SUBSTITUTION.findall(text)):
            return None
        return SUBSTITUTION.sub(lambda match: values[match.group(1)], text)
    return None


def describe(cloudwatch, names: list[str]) -> list[Alarm]:
    """The metric alarms among `names` that CloudWatch has (100 names per request, its limit)."""
    found = []
    paginator = cloudwatch.get_paginator("describe_alarms")
    for start in range(0, len(names), 100):
        pages = paginator.paginate(AlarmNames=names[start:start + 100], AlarmTypes=["MetricAlarm"])
        found += [Alarm.from_described(alarm) for page in pages for alarm in page.get("MetricAlarms", [])]
    return found


def threshold_text(described: dict) -> str:
    """What makes the alarm fire, in a few words: '5xx % of requests > 5 for 5 min'."""
    what = measured(described)
    operator = described.get("ComparisonOperator", "?")
    comparison = COMPARISONS.get(operator, operator)
    threshold = described.get("Threshold")
    text = f"{what} {comparison} {threshold:g}" if threshold is not None else f"{what} {comparison}"
    periods = described.get("EvaluationPeriods") or 1
    needed = described.get("DatapointsToAlarm") or periods
    seconds = period_of(described)
    if needed == periods and seconds:
        text += f" for {minutes(periods * seconds)}"
    elif seconds:
        text += f" in {needed} of {periods} periods of {minutes(seconds)}"
    if described.get("TreatMissingData") == "breaching":
        text += ", or no data"
    return text


def measured(described: dict) -> str:
    """The metric, or the label (else the expression) of a metric-math alarm's result."""
    if described.get("MetricName"):
        statistic = described.get("Statistic") or described.get("ExtendedStatistic") or ""
        return f"{described['MetricName']} {statistic}".rstrip()
    for query in described.get("Metrics", []):
        if query.get("ReturnData", True):
            if query.get("Label") or query.get("Expression"):
                return query.get("Label") or query["Expression"]
            return query.get("MetricStat", {}).get("Metric", {}).get("MetricName", "?")
    return "?"


def period_of(described: dict) -> int:
    periods = [described.get("Period") or 0]
    for query in described.get("Metrics", []):
        periods += [query.get("Period") or 0, query.get("MetricStat", {}).get("Period") or 0]
    return max(periods)


def minutes(seconds: int) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds} s"


def age(elapsed: timedelta) -> str:
    """A duration in its two largest units: 3d 4h, 2h 5m, 12m, <1m."""
    total = int(elapsed.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    mins = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m" if mins else "<1m"


def shortened(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."
