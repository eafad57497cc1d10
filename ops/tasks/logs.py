"""logs: an environment's logs, as its roles wrote them to CloudWatch Logs (ops/aws/logs.py).

Loaded inside the image too, which has no boto3 and no ops/aws: those are imported when it runs.
"""

from __future__ import annotations

from ops.envvars import resolve
from ops.tasks import from_checkout, task


@task(help={
    "env": "the environment whose logs these are (default: as for every task; it needs aws/<env>.json)",
    "follow": "keep printing new events as they come (a poll every 2 s) until Ctrl-C",
    "since": "how far back to start: 30s, 10m, 2h or 1d (default 10m)",
    "role": "whose logs: web, worker or migrate (default web)",
    "region": "the AWS region (default: aws/<env>.json's Region)",
})
def logs(c, env=None, follow=False, since="10m", role="web", region=None):
    """Print the environment's logs from CloudWatch Logs."""
    from_checkout("boto3", "logs")
    cloudwatch, config, session, target = (from_checkout(f"ops.aws.{name}", "logs")
                                           for name in ("logs", "config", "session", "target"))
    role, seconds = cloudwatch.check_role(role), cloudwatch.parse_since(since)
    settings = config.load(c.config.project.name, resolve(env).name, region=region)
    account = session.connect(settings.region)
    with session.aws_errors(f"Reading the {role} logs of {settings.stack_name}"):
        found = target.load(account.client("cloudformation"), settings.stack_name, settings.env)
        group = found.log_group(role)
        client = account.client("logs")
        cloudwatch.require_group(client, group, env=settings.env, role=role)
        cloudwatch.tail(client, group, since=seconds, follow=follow)
