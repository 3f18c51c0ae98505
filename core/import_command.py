"""The base of the ``import_*`` management commands (SPEC 5): arguments, reading options, the
user, exit codes and the summary. The commands' import engines do the work; this module only
turns a command line into a call and its result into output."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class ImportCommand(BaseCommand):
    """Base of the ``import_*`` commands (SPEC 5): ``FILE [--dry-run] [--json] [--user NAME]`` and
    the reading options of SPEC 1.4 (``--source``, ``--mapping``, ``--encoding``, ``--delimiter``,
    ``--date-order``, ``--decimal``, ``--sheet``).

    Subclasses set ``noun`` and ``sources`` (a ``core.reading.SourceSet``) and implement
    ``run_import(*, path, user, dry_run, options) -> ImportResult``.
    Exit 0 when imported, 1 when the input is rejected (every error on stderr as
    ``line N: Column: message``), 2 on usage errors (missing or unreadable FILE or mapping file,
    unknown user). ``--json`` prints exactly ``{"created", "updated", "unchanged", "errors"}``.
    """

    noun = "rows"
    sources: Any = None

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", metavar="FILE", help="CSV or XLSX export")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--json", action="store_true", help="print the SPEC 5 JSON summary")
        parser.add_argument("--user", help="username recorded in history (default: none)")
        names = ("auto", *self.sources.names) if self.sources is not None else ("auto",)
        parser.add_argument(
            "--source", choices=names, default="auto", help="whose export (default: from header)"
        )
        parser.add_argument("--mapping", metavar="FILE", help="JSON mapping file (SPEC 1.4)")
        parser.add_argument("--encoding", help="force an encoding (e.g. cp1252, utf-16)")
        parser.add_argument("--delimiter", help="force a delimiter: , ; tab |")
        parser.add_argument("--date-order", choices=("mdy", "dmy", "ymd"))
        parser.add_argument("--decimal", choices=("point", "comma"))
        parser.add_argument("--sheet", help="XLSX sheet name (default: the first)")

    def run_import(self, *, path: str, user: Any, dry_run: bool, options: Any) -> Any:
        raise NotImplementedError  # pragma: no cover

    def read_options(self, options: dict[str, Any]) -> Any:
        from core.reading import MappingError, ReadOptions, parse_mapping

        mapping = None
        if options.get("mapping") and self.sources is None:
            raise CommandError("this import does not take a mapping file yet", returncode=2)
        if options.get("mapping"):
            path = options["mapping"]
            try:
                with open(path, "rb") as handle:
                    text = handle.read()
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}", returncode=2) from None
            try:
                mapping = parse_mapping(
                    text, columns=self.sources.schema.columns, sources=self.sources.names
                )
            except MappingError as exc:
                raise CommandError(f"{path}: {exc}", returncode=2) from None
        return ReadOptions(
            source=options.get("source") or "auto",
            mapping=mapping,
            encoding=options.get("encoding"),
            delimiter=options.get("delimiter"),
            sheet=options.get("sheet"),
            date_order=options.get("date_order"),
            decimal=options.get("decimal"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import json
        import sys

        from django.contrib.auth import get_user_model

        path = options["file"]
        if not os.path.exists(path):
            raise CommandError(f"{path}: no such file", returncode=2)
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise CommandError(f"{path}: not a readable file", returncode=2)
        user = None
        if options.get("user"):
            try:
                user = get_user_model().objects.get(username=options["user"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user named {options['user']!r}", returncode=2) from None

        read = self.read_options(options)
        result = self.run_import(path=path, user=user, dry_run=options["dry_run"], options=read)
        for error in result.errors:
            self.stderr.write(str(error))
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        elif result.ok:
            verb = "Dry run, nothing written" if result.dry_run else f"Imported {self.noun}"
            deleted = f", {result.deleted} deleted" if result.deleted else ""
            self.stdout.write(
                f"{verb}: {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged{deleted}"
            )
            for notice in result.notices:
                self.stdout.write(notice)
        else:
            # stderr carries only the `line N: Column: message` lines (SPEC 1).
            self.stdout.write(f"Rejected: {len(result.errors)} problem(s); nothing was written.")
        if not result.ok:
            sys.exit(1)
