#!/bin/sh
# The image's entrypoint. Its argument is the role, an invoke task with its options:
#   serve (the default), celery, celery.beat, migrate; any other task runs the same way.
# Without an argument, APP_ROLE names the role.
# It waits for the database and Redis first (WAIT_FOR_TIMEOUT seconds), then execs the task, so
# signals reach the server or worker directly.
set -eu
cd /app
if [ "$#" -eq 0 ]; then
  # No argument: the role APP_ROLE names (Elastic Beanstalk sets it per environment: serve on
  # the web, "celery --beat" on the workers), else serve. Word splitting is meant: a role is a
  # task with its options.
  # shellcheck disable=SC2086
  set -- ${APP_ROLE:-serve}
fi
# The role, for the health check, which runs apart from this process (ops/healthcheck.py); a
# read-only file system leaves it out.
{ echo "$*" > "${APP_ROLE_FILE:-/tmp/app-role}"; } 2>/dev/null || true
invoke wait-for --timeout "${WAIT_FOR_TIMEOUT:-60}"
exec invoke "$@"
