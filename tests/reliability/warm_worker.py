"""A Celery worker process that imports everything first and starts consuming on a signal.

Used by tests/reliability/workers.py so that "start the worker again" after a SIGKILL does not
pay ~5 s of imports on every trial: the next worker process is spawned and warmed while the
current one works, and told to start (a line on stdin) right after the kill. It is still a new,
separate process that connects to the broker afresh, as a restarted worker would.

argv: the `celery worker` arguments (after "worker").
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")

import django  # noqa: E402

django.setup()

from billing_site.celery import app  # noqa: E402

app.loader.import_default_modules()
print("warm", flush=True)
if not sys.stdin.readline().strip():
    sys.exit(0)  # closed without a start signal: not needed
app.worker_main(argv=["worker", *sys.argv[1:]])
