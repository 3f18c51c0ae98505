"""The checks of an agreements import that need other rows or the database (SPEC 1.1): repeated
IDs, accounts that disagree, parents, overlapping signed agreements, already-billed milestones.
Reads the database, never writes; ``agreements.services.agreement_import`` writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from agreements import selectors
from agreements.importing.rows import ACCOUNT_COLUMNS, AgreementRow, MilestoneValue, parse_row
from agreements.models import Agreement, Milestone
from core import csvio
from core.imports import RowError
from core.money import format_money

# Agreement ID -> (Account ID, Currency, Parent Agreement ID) as they will be after the import.
Final = dict[str, tuple[str, str, str]]


class _Rejections:
    """The errors found so far and the lines they reject."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        self.lines: set[int] = set()

    def __call__(self, row: AgreementRow, column: str, message: str) -> None:
        self.errors.append(RowError(row.line, column, message))
        self.lines.add(row.line)

    def passed(self, rows: Iterable[AgreementRow]) -> list[AgreementRow]:
        return [r for r in rows if r.line not in self.lines]


def _range_text(start: dt.date, end: dt.date | None) -> str:
    return f"{start.isoformat()} to {end.isoformat() if end else 'open end'}"


def _overlaps(
    a_start: dt.date, a_end: dt.date | None, b_start: dt.date, b_end: dt.date | None
) -> bool:
    return (b_end is None or a_start <= b_end) and (a_end is None or b_start <= a_end)


def check_rows(
    parsed: list[AgreementRow], bad_ids: set[str], errors: list[RowError]
) -> tuple[list[AgreementRow], selectors.StoredAgreements]:
    """Cross-row and database checks. ``bad_ids``: Agreement IDs of rows that failed parsing (so a
    child of a bad row is not also told its parent is missing). Returns the rows that passed and
    the stored agreements they were checked against."""
    reject = _Rejections(errors)
    by_id = _repeated_ids(parsed, reject)
    rows = reject.passed(parsed)
    _account_agrees(rows, reject)
    file_ids = set(by_id)
    stored = selectors.agreements_for_import(
        ids=file_ids | {r.parent_id for r in rows if r.parent_id},
        project_codes={r.project_code for r in rows},
    )
    # The agreements as they will be after the import: stored ones overridden by the file.
    final: Final = {
        a.external_id: (a.account.external_id, a.currency, a.parent.external_id if a.parent else "")
        for a in stored.by_id.values()
    }
    for row in rows:
        final[row.external_id] = (row.account_id, row.currency, row.parent_id)
    for row in rows:
        if row.parent_id:
            _check_parent(row, final, bad_ids, reject)
    _stored_children(stored, file_ids, by_id, reject)
    _signed_overlaps(rows, stored, file_ids, reject)
    _billed_milestones(rows, stored, reject)
    return reject.passed(rows), stored


def _repeated_ids(parsed: list[AgreementRow], reject: _Rejections) -> dict[str, AgreementRow]:
    """Repeated keys in the file; returns the first row of each Agreement ID."""
    by_id: dict[str, AgreementRow] = {}
    for row in parsed:
        first = by_id.get(row.external_id)
        if first is not None:
            reject(row, "Agreement ID", f"{row.external_id} repeats line {first.line}")
        else:
            by_id[row.external_id] = row
    return by_id


def _account_agrees(rows: list[AgreementRow], reject: _Rejections) -> None:
    """One account, one name, e-mail, address, VAT ID and reference in a file."""
    accounts: dict[str, AgreementRow] = {}
    filled: dict[tuple[str, str], AgreementRow] = {}
    for row in rows:
        first = accounts.setdefault(row.account_id, row)
        if first.account_name != row.account_name:
            reject(
                row,
                "Account Name",
                f"differs from line {first.line} for account {row.account_id} ({first.account_name!r})",
            )
        for column, attr in ACCOUNT_COLUMNS.items():
            value = getattr(row, attr)
            if not value:
                continue
            first_filled = filled.setdefault((row.account_id, attr), row)
            if getattr(first_filled, attr) != value:
                shown = getattr(first_filled, attr).replace("\n", "; ")
                reject(
                    row,
                    column,
                    f"differs from line {first_filled.line} for account {row.account_id} ({shown!r})",
                )


def _check_parent(row: AgreementRow, final: Final, bad_ids: set[str], reject: _Rejections) -> None:
    """The parent exists, has the same account and currency, and the chain has no loop."""
    if row.parent_id == row.external_id:
        reject(row, "Parent Agreement ID", "an agreement cannot be its own parent")
        return
    parent = final.get(row.parent_id)
    if parent is None:
        if row.parent_id not in bad_ids:
            reject(
                row,
                "Parent Agreement ID",
                f"agreement {row.parent_id} does not exist (not in this file and not imported before)",
            )
        return
    if parent[0] != row.account_id:
        reject(
            row,
            "Parent Agreement ID",
            f"agreement {row.parent_id} belongs to account {parent[0]}, not {row.account_id}",
        )
    elif parent[1] != row.currency:
        reject(
            row,
            "Parent Agreement ID",
            f"agreement {row.parent_id} is in {parent[1]}, not {row.currency}",
        )
    seen = {row.external_id}
    current = row.parent_id
    while current and current in final:
        if current in seen:
            reject(row, "Parent Agreement ID", f"the parent chain loops back to {current}")
            break
        seen.add(current)
        current = final[current][2]


def _stored_children(
    stored: selectors.StoredAgreements, file_ids: set[str], by_id: dict[str, AgreementRow],
    reject: _Rejections,
) -> None:  # fmt: skip
    """Stored children (not in the file) of a row whose account or currency changes."""
    for child in stored.children_outside(file_ids):
        parent_row = by_id.get(child.parent.external_id)
        if parent_row is None or parent_row.line in reject.lines:
            continue
        if child.account.external_id != parent_row.account_id:
            reject(
                parent_row,
                "Account ID",
                f"agreement {child.external_id} is bundled under this one and belongs to account {child.account.external_id}",
            )
        elif child.currency != parent_row.currency:
            reject(
                parent_row,
                "Currency",
                f"agreement {child.external_id} is bundled under this one and is in {child.currency}",
            )


def _signed_overlaps(
    rows: list[AgreementRow], stored: selectors.StoredAgreements, file_ids: set[str],
    reject: _Rejections,
) -> None:  # fmt: skip
    """Overlapping signed agreements on one Project Code (file and database, open end =
    infinity)."""
    signed_by_code: dict[str, list[tuple[str, dt.date, dt.date | None, int]]] = {}
    for a in stored.signed_outside(file_ids):
        signed_by_code.setdefault(a.project_code, []).append(
            (a.external_id, a.start_date, a.end_date, 0)
        )
    for row in sorted(rows, key=lambda r: r.line):
        if row.stage != Agreement.Stage.SIGNED:
            continue
        others = signed_by_code.setdefault(row.project_code, [])
        for other_id, start, end, line in others:
            if _overlaps(row.start_date, row.end_date, start, end):
                where = f"line {line}" if line else "already imported"
                reject(
                    row,
                    "Project Code",
                    f"signed agreement {other_id} ({where}, {_range_text(start, end)}) already covers {row.project_code} on overlapping dates",
                )
                break
        others.append((row.external_id, row.start_date, row.end_date, row.line))


def _billed_milestones(
    rows: list[AgreementRow], stored: selectors.StoredAgreements, reject: _Rejections
) -> None:
    """Milestones already billed never change (nor does the Amount they were billed from)."""
    billed = stored.billed_milestones()
    for row in rows:
        existing = stored.by_id.get(row.external_id)
        if existing is None or existing.pk not in billed:
            continue
        wanted = {m.position: m for m in row.milestones}
        for ms in billed[existing.pk]:
            new = wanted.get(ms.position)
            if new is None:
                reject(
                    row,
                    "Milestones"
                    if row.agreement_type == Agreement.Type.FIXED_FEE
                    else "Agreement Type",
                    f"milestone {ms.name!r} is already billed and cannot be removed",
                )
            elif changes := _milestone_changes(ms, new):
                reject(
                    row,
                    "Milestones",
                    f"milestone {ms.name!r} is already billed and cannot change ({'; '.join(changes)})",
                )
        if existing.amount is not None and row.amount != existing.amount:
            reject(
                row,
                "Amount",
                f"cannot change from {format_money(existing.amount, existing.currency)} "
                "because milestones of this agreement are already billed",
            )


def _milestone_changes(ms: Milestone, new: MilestoneValue) -> list[str]:
    changes = []
    if new.name != ms.name:
        changes.append(f"name {ms.name!r} -> {new.name!r}")
    if new.percent != ms.percent:
        changes.append(f"percent {ms.percent.normalize():f} -> {new.percent.normalize():f}")
    if new.due_date != ms.due_date:
        old = ms.due_date.isoformat() if ms.due_date else "none"
        changes.append(f"date {old} -> {new.due_date.isoformat() if new.due_date else 'none'}")
    return changes


def parse_and_check(
    rows: Iterable[csvio.Row], errors: list[RowError]
) -> tuple[list[AgreementRow], selectors.StoredAgreements]:
    parsed: list[AgreementRow] = []
    bad_ids: set[str] = set()
    for row in rows:
        result = parse_row(row, errors)
        if result is None:
            ext = row.values[0]
            if ext:
                bad_ids.add(ext)
        else:
            parsed.append(result)
    return check_rows(parsed, bad_ids, errors)
