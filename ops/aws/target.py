"""What a deploy acts on: the names the environment's stack reports in its outputs."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ops.errors import UserError


@dataclass(frozen=True)
class Target:
    """An environment on AWS, as its CloudFormation stack (aws/environment.yml) names it."""

    stack: str
    url: str
    application: str
    web: str
    worker: str
    repository: str
    repository_uri: str
    migrate_project: str
    deploy_table: str

    @property
    def environments(self) -> dict[str, str]:
        """The Beanstalk environments by role."""
        return {"web": self.web, "worker": self.worker}

    @property
    def migrate_log_group(self) -> str:
        """CodeBuild's log group of the migrations project (the template names it so)."""
        return f"/aws/codebuild/{self.migrate_project}"

    def log_group(self, role: str) -> str:
        """Where Beanstalk streams a role's container output (Docker on Amazon Linux 2023)."""
        if role == "migrate":
            return self.migrate_log_group
        environment = self.environments[role]
        return (f"/aws/elasticbeanstalk/{environment}"
                "/var/log/eb-docker/containers/eb-current-app/stdouterr.log")


# Target field -> the stack output holding it.
OUTPUTS = {
    "url": "Url",
    "application": "ApplicationName",
    "web": "WebEnvironmentName",
    "worker": "WorkerEnvironmentName",
    "repository": "EcrRepositoryName",
    "repository_uri": "EcrRepositoryUri",
    "migrate_project": "MigrateProjectName",
    "deploy_table": "DeployTableName",
}


def from_outputs(stack: str, outputs: dict[str, str], env: str) -> Target:
    missing = sorted(output for output in OUTPUTS.values() if not outputs.get(output))
    if missing:
        raise UserError(f"The stack {stack} lacks the outputs {', '.join(missing)}: it predates this "
                        f"version of aws/environment.yml. Update it first: invoke aws.bootstrap --env {env}")
    values = {field.name: outputs[OUTPUTS[field.name]] for field in fields(Target) if field.name != "stack"}
    return Target(stack=stack, **values)


def load(cfn, stack: str, env: str) -> Target:
    """The target of `stack`; UserError when the stack does not exist or is not ready."""
    from botocore.exceptions import ClientError

    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            found = []
        else:
            raise
    if not found:
        raise UserError(f"{env} has no stack on AWS yet ({stack}): create it with invoke aws.bootstrap "
                        f"--env {env}, then deploy.")
    status = found[0]["StackStatus"]
    if (status.endswith("_FAILED") or status.startswith(("DELETE", "ROLLBACK"))
            or status == "REVIEW_IN_PROGRESS"):
        raise UserError(f"The stack {stack} is {status}: repair it (invoke aws.bootstrap --env {env}) "
                        "before deploying.")
    outputs = {item["OutputKey"]: item["OutputValue"] for item in found[0].get("Outputs", [])}
    return from_outputs(stack, outputs, env)
