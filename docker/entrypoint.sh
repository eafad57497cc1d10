#!/bin/sh
# The image's entrypoint. Its argument is the role, an invoke task with its options:
#   serve (the default), celery, celery.beat, migrate; any other task runs the same way.
# It waits for the database and Redis first (WAIT_FOR_TIMEOUT seconds), then execs the task, so
# signals reach the server or worker directly.
set -eu
cd /app
if [ "$#" -eq 0 ]; then
  set -- serve
fi
invoke wait-for --timeout "${WAIT_FOR_TIMEOUT:-60}"
exec invoke "$@"
