#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    # A developer's shell (neither DEBUG nor SECRET_KEY set) gets development settings, like
    # `make run`. Production always sets SECRET_KEY; the web (wsgi) and Celery processes never
    # get this default, so they still refuse to start without it.
    if "DEBUG" not in os.environ and "SECRET_KEY" not in os.environ:
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
