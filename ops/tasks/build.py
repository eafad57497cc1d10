"""build: the service's one image, tagged with the commit; --push sends it to ECR.

Loaded inside the image too (tasks.py is its entrypoint's task list), which carries neither
ops.images nor boto3: both are imported when the task runs.
"""

from __future__ import annotations

from invoke import Collection

from ops.envvars import REPOSITORY
from ops.errors import UserError
from ops.tasks import from_checkout, task


@task(
    name="image",
    default=True,
    help={
        "push": "log in to ECR and push the image (refused for an uncommitted tree)",
        "name": "local image name (config docker.image)",
        "repository": "ECR repository to push to (config docker.repository)",
        "base_image": "base image build argument (default: the Dockerfile's BASE_IMAGE, an exact "
                      "python:3.12.x-slim; IMAGE@sha256:DIGEST pins it by digest)",
        "pip_config": "a pip.conf for this build (a company index or mirror): a build secret, "
                      "never in a layer",
        "ca_bundle": "a CA bundle pip trusts during the build (behind a TLS-inspecting proxy): "
                     "a build secret, never in a layer",
        "no_cache": "rebuild every layer",
        "artifact": "with --push: where to write Elastic Beanstalk's Dockerrun.aws.json",
        "region": "with --push: the AWS region of the repository (default: AWS_REGION, the AWS profile's)",
        "push_from": "with --push: push only a build for this branch (CodeBuild's webhook or source "
                     "version, else SOURCE_BRANCH, else git's branch); another branch, a pull request "
                     "or a tag builds without pushing, and an unknown one is refused",
    }
)
def image(c, push=False, name=None, repository=None, base_image=None, pip_config=None,
          ca_bundle=None, no_cache=False, artifact=None, region=None, push_from=None):
    """Build the image, tagged with the git sha; --push sends it to ECR."""
    images = from_checkout("ops.images", "build")
    if push_from:
        if not push:
            raise UserError("--push-from goes with --push.")
        branches = from_checkout("ops.source_branch", "build")
        refusal = branches.push_refusal(branches.build_source(), push_from)
        if refusal:
            print(refusal, flush=True)
            push = False
    revision = images.revision()
    if push:
        images.require_pushable(revision)
    options = images.BuildOptions(
        name=name or c.config.docker.image, tag=revision.tag, base_image=base_image,
        secrets=images.build_secrets(pip_config=pip_config, ca_bundle=ca_bundle),
        no_cache=no_cache, labels={"org.opencontainers.image.revision": revision.sha},
        version=revision.tag,
    )
    with images.container_engine() as engine:
        images.build(c, engine, options)
        print(f"built {options.reference}", flush=True)
        if push:
            import boto3

            pushed = images.push(c, engine, boto3.client("ecr", region_name=region), image=options.reference,
                                 repository=repository or c.config.docker.repository, tag=revision.tag)
            path = images.write_artifact(pushed, REPOSITORY / (artifact or c.config.docker.artifact))
            print(f"pushed {pushed}; deployment artifact {path}", flush=True)


ns = Collection("build", image)
ns.configure({
    "docker": {
        "image": "little-service",
        "repository": "little-service",
        "artifact": "dist/Dockerrun.aws.json",
    },
})
