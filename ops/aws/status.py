"""`invoke status`: an environment on AWS at a glance."""

from __future__ import annotations

from ops.aws import beanstalk, history
from ops.aws.target import Target


def status(eb, dynamodb, target: Target, env: str, *, history_length: int = 5) -> str:
    """The URL, each role's version, state, health and instances, the lock, the last deploys."""
    lines = [f"{env} ({target.stack}): {target.url}"]
    for state in beanstalk.describe(eb, target.environments):
        lines.append(f"  {state.line()}")
    holder = history.holder(dynamodb, target.deploy_table, env)
    lines.append(f"  lock: held by {holder.describe()}" if holder else "  lock: free")
    records = history.recent(dynamodb, target.deploy_table, env, history_length)
    lines.append("last deploys:" if records else "last deploys: none on record")
    lines += [f"  {record.line()}" for record in records]
    return "\n".join(lines) + "\n"
