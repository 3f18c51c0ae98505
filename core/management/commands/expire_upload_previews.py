"""expire_upload_previews [--minutes N]: delete upload previews never confirmed (core/previews.py)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand

from core.previews import expire_upload_previews, preview_ttl


class Command(BaseCommand):
    help = "Delete upload previews older than BILLING_PREVIEW_TTL_MINUTES (beat: hourly)."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=None, help="Age limit (default: TTL).")

    def handle(self, *args, **options):
        minutes = options["minutes"]
        age = dt.timedelta(minutes=minutes) if minutes is not None else preview_ttl()
        removed = expire_upload_previews(older_than=age)
        self.stdout.write(f"Deleted {removed} upload preview(s) older than {age}.")
