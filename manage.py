#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_site.settings.local")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from referral_site.embedded import EmbeddedServerError

    try:
        execute_from_command_line(sys.argv)
    except (EmbeddedServerError, ImproperlyConfigured) as exc:
        # A one-line reason, not a traceback: the user can act on it.
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
