"""An environment's AWS configuration: aws/<env>.json (the region, the template's parameter values,
the tags), and the template aws/environment.yml rendered for CloudFormation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ops.envvars import REPOSITORY
from ops.errors import UserError

AWS_DIR = REPOSITORY / "aws"
TEMPLATE = AWS_DIR / "environment.yml"
TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's limit for a template sent inline
SECRETS_NAMESPACE = "aws:elasticbeanstalk:application:environmentsecrets"


@dataclass(frozen=True)
class EnvironmentConfig:
    project: str
    env: str
    region: str
    parameters: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        return f"{self.project}-{self.env}"

    def templates_bucket(self, account_id: str) -> str:
        """Where a template over CloudFormation's inline limit goes (bucket names are global)."""
        return f"{self.stack_name}-templates-{account_id}"

    @property
    def secrets_path(self) -> str:
        from ops.aws.secrets import path

        return path(self.project, self.env)

    def all_parameters(self) -> dict[str, str]:
        return {"ProjectName": self.project, "EnvironmentName": self.env, **self.parameters}


def config_path(env: str, aws_dir: Path = AWS_DIR) -> Path:
    return aws_dir / f"{env}.json"


def load(project: str, env: str, *, region: str | None = None, overrides: dict[str, str] | None = None,
         aws_dir: Path = AWS_DIR) -> EnvironmentConfig:
    """The environment's configuration; `region` and `overrides` (parameter values) win over the file."""
    path = config_path(env, aws_dir)
    if not path.exists():
        known = sorted(candidate.stem for candidate in aws_dir.glob("*.json"))
        raise UserError(f"{env} has no AWS environment ({path.relative_to(aws_dir.parent)} does not "
                        f"exist): its settings and secrets come from .env or the process environment. "
                        f"Environments on AWS: {', '.join(known) or 'none'} (--env; copy one's file "
                        f"to add another).")
    try:
        data = json.loads(path.read_text())
        parameters = {str(key): str(value) for key, value in data.get("Parameters", {}).items()}
        tags = {str(key): str(value) for key, value in data.get("Tags", {}).items()}
        region = region or data.get("Region") or ""
    except (ValueError, AttributeError) as exc:
        raise UserError(f"{path.name} is not a JSON object of Region, Parameters and Tags: {exc}") from None
    return EnvironmentConfig(project, env, region, {**parameters, **(overrides or {})}, tags)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`--parameter Name=value` options as a dict; UserError for one without '='."""
    overrides = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise UserError(f"--parameter {pair!r}: write it as Name=value (e.g. WebMaxInstances=4).")
        overrides[name] = value
    return overrides


def read_template(path: Path = TEMPLATE) -> dict:
    """The template as data (it is written with the long form of intrinsic functions, so plain
    YAML reads it; JSON is YAML too)."""
    try:
        template = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"The template {path} cannot be read: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise UserError(f"The template {path} is not YAML (write intrinsic functions in their long "
                        f"form, Fn::Sub: rather than !Sub): {exc}") from None
    if not isinstance(template, dict) or "Resources" not in template:
        raise UserError(f"The template {path} has no Resources: is it a CloudFormation template?")
    return template


def with_secrets(template: dict, names: list[str]) -> dict:
    """The template with every secret in `names` handed to each Beanstalk environment as an
    environment variable resolved from SSM at instance start (those it names already stay)."""
    rendered = json.loads(json.dumps(template))
    for resource in rendered.get("Resources", {}).values():
        if resource.get("Type") != "AWS::ElasticBeanstalk::Environment":
            continue
        settings = resource.setdefault("Properties", {}).setdefault("OptionSettings", [])
        present = {setting.get("OptionName") for setting in settings
                   if setting.get("Namespace") == SECRETS_NAMESPACE}
        for name in sorted(set(names) - present):
            settings.append({"Namespace": SECRETS_NAMESPACE, "OptionName": name, "Value": {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/"
                           f"${{ProjectName}}/${{EnvironmentName}}/{name}"}})
    return rendered


def template_body(template: dict) -> str:
    return json.dumps(template, separators=(",", ":"))


def fits_inline(body: str) -> bool:
    """Whether CloudFormation takes the template in the request, or reads it from S3."""
    return len(body.encode()) <= TEMPLATE_BODY_LIMIT
