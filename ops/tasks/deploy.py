"""deploy, rollback, status: an environment on AWS (ops/aws/deploy.py does the work).

Loaded inside the image too, which has no boto3 and no ops/aws: those are imported when a task runs.
"""

from __future__ import annotations

import sys

from ops.envvars import REPOSITORY, resolve
from ops.errors import UserError
from ops.tasks import from_checkout, task

DEPLOY_ENV_HELP = "the environment to act on (default: as for every task; it needs aws/<env>.json)"


def connected(c, env, region):
    """The environment's settings, its AWS account, and what its stack names (the Target)."""
    from_checkout("boto3", "deploy")
    config, session, target = (from_checkout(f"ops.aws.{name}", "deploy")
                               for name in ("config", "session", "target"))
    settings = config.load(c.config.project.name, resolve(env).name, region=region)
    account = session.connect(settings.region)
    with session.aws_errors(f"Reading the stack {settings.stack_name}"):
        found = target.load(account.client("cloudformation"), settings.stack_name, settings.env)
    return settings, account, found


def deployer(c, settings, account, found):
    deploy = from_checkout("ops.aws.deploy", "deploy")
    clients = deploy.Clients(*(account.client(name) for name in
                               ("elasticbeanstalk", "s3", "ecr", "codebuild", "logs", "dynamodb")))
    return deploy.Deployer(clients, found, settings.env, options=deploy.Options.from_config(c.config.deploy))


@task(auto_shortflags=False, help={
    "env": DEPLOY_ENV_HELP,
    "image": "deploy this image tag, already in ECR (the pipeline: the commit's tag), instead of building "
             "and pushing the checked-out commit",
    "allow_breaking_migrations": "apply migrations the linter says break the version still serving "
                                 "(dropping or renaming what it reads): only when that is intended",
    "break_lock": "first remove the environment's deploy lock: only when the deploy holding it was "
                  "killed (invoke status shows who holds it and since when)",
    "region": "the AWS region (default: aws/<env>.json's Region)",
})
def deploy(c, env=None, image=None, allow_breaking_migrations=False, break_lock=False, region=None):
    """Deploy the checked-out commit (or --image TAG): migrate once, roll out, gate, roll back on failure."""
    images = from_checkout("ops.images", "deploy")
    history = from_checkout("ops.aws.history", "deploy")
    if not image and images.revision().dirty:  # the commit checked out: refused before anything
        raise UserError("The tree has uncommitted changes, and a deploy ships a commit: commit them (or "
                        "stash them), then deploy; or deploy an image already pushed with --image TAG. "
                        "Nothing was done.")
    settings, account, found = connected(c, env, region)
    session = from_checkout("ops.aws.session", "deploy")
    if not image:
        from ops.tasks.build import image as build_image

        build_image(c, push=True, repository=found.repository, region=settings.region)
        image = images.revision().tag
    with session.aws_errors(f"Deploying to {settings.stack_name}"):
        worker = deployer(c, settings, account, found)
        reference = from_checkout("ops.aws.deploy", "deploy").require_image(worker.clients.ecr, found, image)
        artifact = images.write_artifact(reference, REPOSITORY / c.config.docker.artifact)
        worker.say(f"deployment artifact {artifact.relative_to(REPOSITORY)}")
        worker.deploy(version=image, image=reference, dockerrun=images.read_artifact(artifact),
                      by=history.who(), allow_breaking=allow_breaking_migrations, break_lock=break_lock)


@task(auto_shortflags=False, help={
    "env": DEPLOY_ENV_HELP,
    "to": "the application version to roll back to (default: the last one a deploy left serving "
          "before the current one)",
    "break_lock": "first remove the environment's deploy lock left by a killed deploy",
    "region": "the AWS region (default: aws/<env>.json's Region)",
})
def rollback(c, env=None, to=None, break_lock=False, region=None):
    """Roll web and worker back to an earlier version, through the deploy's gate (no migrations)."""
    history = from_checkout("ops.aws.history", "rollback")
    settings, account, found = connected(c, env, region)
    session = from_checkout("ops.aws.session", "rollback")
    with session.aws_errors(f"Rolling {settings.stack_name} back"):
        deployer(c, settings, account, found).rollback(to=to, by=history.who(), break_lock=break_lock)


@task(help={"env": DEPLOY_ENV_HELP, "region": "the AWS region (default: aws/<env>.json's Region)"})
def status(c, env=None, region=None):
    """Show the environment on AWS: its URL, each role's version, health and instances, the last deploys."""
    settings, account, found = connected(c, env, region)
    session = from_checkout("ops.aws.session", "status")
    report = from_checkout("ops.aws.status", "status")
    with session.aws_errors(f"Reading {settings.stack_name}"):
        sys.stdout.write(report.status(account.client("elasticbeanstalk"), account.client("dynamodb"),
                                       found, settings.env, history_length=int(c.config.deploy.history)))


TASKS = (deploy, rollback, status)
DEFAULTS = {"deploy": {
    "timeout": 1800,
    "migrate_timeout": 1800,
    "answer_timeout": 180,
    "bake": 120,
    "interval": 10,
    "max_5xx_percent": 1.0,
    "version_reads": 5,
    "http_timeout": 5,
    "report_every": 60,
    "history": 5,
}}
