"""aws: the environment's AWS resources as one CloudFormation stack (aws/environment.yml)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from invoke import Collection, Exit

from application_service.environments import truthy
from ops.envvars import resolve
from ops.errors import UserError
from ops.tasks import from_checkout, task

AWS_ENV_HELP = "the environment whose stack this is (default: as for every task; it needs aws/<env>.json)"


def aws_modules():
    """The AWS modules, which need boto3: a checkout's development tools, not the image's."""
    from_checkout("boto3", "aws.*")
    return tuple(from_checkout(f"ops.aws.{name}", "aws.*")
                 for name in ("config", "parameters", "secrets", "session", "stack"))


def answers_itself(*, yes: bool, environment) -> bool:
    """True when the plan goes ahead without asking: --yes, or CI (nobody there to ask). Where
    nobody can be asked either, a UserError before anything is planned."""
    if yes or truthy(environment.get("CI")):
        return True
    if not sys.stdin.isatty():
        raise UserError("Executing a plan needs an answer, and there is no terminal to ask on: pass "
                        "--yes to go ahead without asking, or --dry-run to see the plan only.")
    return False


def said_yes(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}


@task(iterable=["parameter"], help={
    "env": AWS_ENV_HELP,
    "yes": "execute the plan without asking (scripts)",
    "dry_run": "print the plan, change nothing",
    "region": "the AWS region (default: aws/<env>.json's Region)",
    "parameter": "override a template parameter, as Name=value (repeatable)",
    "timeout": "seconds to wait for CloudFormation (config aws.timeout)",
    "template": "the CloudFormation template (default aws/environment.yml)",
})
def bootstrap(c, env=None, yes=False, dry_run=False, region=None, parameter=None, timeout=None,
              template=None):
    """Create or update the environment's AWS stack: plan, ask, execute, follow, report."""
    config, parameters, secrets, session, stack = aws_modules()
    environment = resolve(env)
    settings = config.load(c.config.project.name, environment.name, region=region,
                           overrides=config.parse_overrides(parameter or []))
    template = config.read_template(*([Path(template)] if template else []))
    problems = parameters.check(template, settings.all_parameters())
    if problems:
        raise UserError("aws/{}.json (or --parameter) does not fit the template: {}".format(
            settings.env, "; ".join(problems)))
    asked = not dry_run and not answers_itself(yes=yes, environment=environment)
    account = session.connect(settings.region)
    ssm, cfn = account.client("ssm"), account.client("cloudformation")
    print(f"{settings.stack_name}: account {account.account_id}, region {account.region}", flush=True)
    wait_seconds = float(timeout or c.config.aws.timeout)
    with session.aws_errors(f"Planning {settings.stack_name}"):
        stored = [name for name, _, _ in secrets.names(ssm, settings.secrets_path)]
        body = config.template_body(config.with_secrets(template, stored))
        source = {"template_body": body}
        if not config.fits_inline(body):
            source = {"template_url": stack.upload_template(
                account.client("s3"), bucket=settings.templates_bucket(account.account_id),
                region=account.region, body=body)}
        plan = stack.plan(cfn, stack_name=settings.stack_name, **source,
                          parameters=settings.all_parameters(), tags=settings.tags, timeout=wait_seconds)
        missing = secrets.missing(ssm, settings.secrets_path, c.config.aws.required_secrets)
    print(plan.report(), flush=True)
    for name in missing:
        print(f"still missing: {name} (the service will not start without it): "
              f"invoke secrets.set {name} --env {settings.env}", flush=True)
    if plan.empty:
        return
    if dry_run or asked and not said_yes(f"Execute this plan on {settings.stack_name}?"):
        with session.aws_errors(f"Discarding the plan of {settings.stack_name}"):
            stack.discard(cfn, plan)
        print(f"{'--dry-run: ' if dry_run else ''}nothing was changed.")
        return
    with session.aws_errors(f"Executing the plan of {settings.stack_name}"):
        outputs = stack.execute(cfn, plan, timeout=wait_seconds)
    print(f"{settings.stack_name} is ready.")
    for key in c.config.aws.shown_outputs:
        if key in outputs:
            print(f"  {key}: {outputs[key]}")


@task(help={
    "env": AWS_ENV_HELP,
    "confirm": "the environment's name, typed back (for scripts); without it you are asked",
    "region": "the AWS region (default: aws/<env>.json's Region)",
    "timeout": "seconds to wait for CloudFormation (config aws.timeout)",
})
def teardown(c, env=None, confirm=None, region=None, timeout=None):
    """Remove the environment's AWS stack; each database is kept as a final snapshot."""
    config, _, _, session, stack = aws_modules()
    environment = resolve(env)
    settings = config.load(c.config.project.name, environment.name, region=region)
    if confirm is None:
        if not sys.stdin.isatty():
            raise UserError(f"Removing {settings.stack_name} needs its environment's name typed back: "
                            f"pass --confirm {settings.env}.")
        confirm = input(f"This removes {settings.stack_name} (databases kept as final snapshots). "
                        f"Type the environment's name ({settings.env}) to go on: ").strip()
    if confirm != settings.env:
        raise UserError(f"{confirm!r} is not {settings.env!r}: nothing was removed.")
    account = session.connect(settings.region)
    with session.aws_errors(f"Removing {settings.stack_name}"):
        stack.teardown(account.client("cloudformation"), account.client("rds"), settings.stack_name,
                       timeout=float(timeout or c.config.aws.timeout))
        stack.remove_templates(account.client("s3"), settings.templates_bucket(account.account_id))
    print(f"{settings.stack_name} is removed.")


# `aws.alarms --check`: its exit code when the check finds an alarm that needs attention (1 is
# for a check that could not be made: no stack, no credentials).
ALARMS_NEED_ATTENTION = 2


@task(help={
    "env": AWS_ENV_HELP,
    "check": f"exit with {ALARMS_NEED_ATTENTION} when an alarm is in ALARM, has had INSUFFICIENT_DATA for "
             "longer than --grace, or is missing from CloudWatch",
    "grace": "minutes an alarm may stay INSUFFICIENT_DATA before --check counts it: a new alarm waits "
             "for its first data (config aws.alarm_grace_minutes)",
    "region": "the AWS region (default: aws/<env>.json's Region)",
})
def alarms(c, env=None, check=False, grace=None, region=None):
    """List the environment's CloudWatch alarms: state, since when, threshold, reason."""
    config, _, _, session, _ = aws_modules()
    alarm_states = from_checkout("ops.aws.alarms", "aws.*")
    try:
        grace_minutes = float(grace if grace is not None else c.config.aws.alarm_grace_minutes)
    except ValueError:
        raise UserError(f"--grace {grace!r} is not a number of minutes (e.g. 30).") from None
    settings = config.load(c.config.project.name, resolve(env).name, region=region)
    account = session.connect(settings.region)
    with session.aws_errors(f"Reading the alarms of {settings.stack_name}"):
        report = alarm_states.read(account.client("cloudformation"), account.client("cloudwatch"),
                                   settings.stack_name, settings.env)
    now = datetime.now(UTC)
    print(report.table(now), flush=True)
    if not check:
        return
    problems = report.attention(now=now, grace=timedelta(minutes=grace_minutes))
    if problems:
        raise Exit("check failed: " + "; ".join(problems), code=ALARMS_NEED_ATTENTION)
    print("check passed: no alarm in ALARM, none without data for more than "
          f"{grace_minutes:g} minutes, none missing")


ns = Collection("aws", bootstrap, teardown, alarms)
ns.configure({"aws": {
    "timeout": 3600,
    # aws.alarms --check: how long a new alarm may wait for its first data.
    "alarm_grace_minutes": 30,
    # Secrets the service needs that only a person can give (the rest come from the stack).
    "required_secrets": ["SECRET_KEY"],
    "shown_outputs": ["Url", "EcrRepositoryUri", "SecretsPath", "AlarmTopicArn"],
}})
