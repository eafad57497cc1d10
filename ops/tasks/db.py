"""db: the environment's database itself."""

from __future__ import annotations

from invoke import Collection

from ops import mysql_admin
from ops.envvars import resolve
from ops.tasks import ENV_HELP, task


@task(name="create", help={"env": ENV_HELP})
def create(c, env=None):
    """Create the database (utf8mb4) when it does not exist."""
    print(mysql_admin.create(resolve(env)))


ns = Collection("db", create)
