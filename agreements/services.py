"""Writes for agreements (SPEC 1.1): the CRM import.

``agreement_import(*, file, user=None, dry_run=False)`` reads a CSV (bytes, a path or a binary file
object); ``agreement_import_rows(*, rows, user=None, dry_run=False)`` takes the same rows as a JSON
list of objects keyed by SPEC column names (line = index + 2). Both return an ``ImportResult`` and
are all or nothing: with any error nothing is written. Every created, changed or deleted account,
agreement, role rate and milestone gets a history record naming ``user`` (None from a command
without --user) with the change reason "agreement import".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from agreements import selectors, sources
from agreements.importing import (
    ACCOUNT_COLUMNS,
    COLUMNS,
    REQUIRED,
    AgreementRow,
    lock_imports,
    parse_and_check,
)
from agreements.models import Account, Agreement, Milestone, RoleRate
from core import csvio
from core.dates import firm_today
from core.errors import BillingError
from core.imports import (
    ImportResult,
    RowError,
    import_record_create,
    import_record_finish,
    import_transaction,
)
from core.reading import ReadOptions, Schema, SourceSet, TableReader, describe_file

CHANGE_REASON = "agreement import"


SCHEMA = Schema("agreements", COLUMNS, frozenset(REQUIRED), sources.KINDS)
SOURCES = SourceSet(SCHEMA, sources.BILLABLE, sources.OTHERS)


def agreement_import(
    *,
    file: Any,
    user: Any = None,
    dry_run: bool = False,
    options: ReadOptions | None = None,
    file_name: str = "",
    progress: Any = None,
) -> ImportResult:
    """``options``: source, mapping, encoding, delimiter, sheet, date order, decimal (SPEC 1.4);
    ``progress(rows, phase)`` is told how far the import is (a background import's bar)."""
    reader = TableReader(file, sources=SOURCES, options=options)
    return _run(
        reader, user=user, dry_run=dry_run, file=file, file_name=file_name, progress=progress
    )


def agreement_import_rows(
    *,
    rows: list[dict[str, Any]],
    user: Any = None,
    dry_run: bool = False,
    options: ReadOptions | None = None,
) -> ImportResult:
    try:
        reader = TableReader.from_dicts(rows, sources=SOURCES, options=options)
    except csvio.CsvFileError as exc:
        return ImportResult(errors=[exc.error], dry_run=dry_run)
    return _run(reader, user=user, dry_run=dry_run, file=None, file_name="JSON rows")


def _run(
    reader: TableReader, *, user: Any, dry_run: bool, file: Any, file_name: str,
    progress: Any = None,
) -> ImportResult:  # fmt: skip
    result = ImportResult(dry_run=dry_run)
    errors: list[RowError] = []
    rows: list[csvio.Row] = []
    try:
        for row in reader:
            rows.append(row)
            if progress is not None and not len(rows) % 1000:
                progress(len(rows), "reading")
    except csvio.CsvFileError as exc:
        result.errors = sorted([*reader.errors, exc.error], key=lambda e: e.line)
        result.unknown_header = getattr(exc, "header", [])
        return result
    errors.extend(reader.errors)
    result.source = reader.source.name if reader.source else ""
    if progress is not None:
        progress(len(rows), "writing")
    with import_transaction(dry_run=dry_run):  # a dry run writes, then rolls back
        # Checks run under the lock, so they see what a concurrent import committed.
        lock_imports("agreements")
        good, stored = parse_and_check(rows, errors)
        if errors:
            result.errors = sorted(reader.relabel(errors), key=lambda e: e.line)
            return result
        result.notices.extend(reader.notices)
        # Recorded before writing, so the accounts and agreements it writes point at it (undo).
        record = None
        if not dry_run:
            record = import_record_create(
                kind="agreements",
                source=result.source,
                user=user,
                file=describe_file(file, file_name),
                encoding=reader.encoding,
                options=reader.options.as_json(),
            )
        _write(good, stored, user=user, result=result, record=record)
        if record is not None:
            import_record_finish(record=record, result=result)
            result.import_id = record.pk
    return result


def _stamp(obj: Any, user: Any) -> Any:
    obj._history_user = user
    obj._change_reason = CHANGE_REASON
    return obj


def _save(obj: Any, user: Any) -> None:
    _stamp(obj, user).save()


def _delete(obj: Any, user: Any) -> None:
    _stamp(obj, user).delete()


def _depth(row: AgreementRow, by_id: dict[str, AgreementRow]) -> int:
    depth, current, seen = 0, row.parent_id, {row.external_id}
    while current in by_id and current not in seen:
        seen.add(current)
        depth += 1
        current = by_id[current].parent_id
    return depth


def _write_accounts(
    rows: list[AgreementRow], *, user: Any, record: Any
) -> tuple[dict[str, Account], set[str]]:
    """Accounts: one name, e-mail, address, VAT ID and reference per Account ID (check_rows made
    sure the rows agree); a column no row of the account fills is blank. Returns the accounts by
    Account ID and the IDs of those created or changed (which then point at ``record``)."""
    accounts = selectors.accounts_by_external_id(r.account_id for r in rows)
    fields = ("name", *ACCOUNT_COLUMNS.values())
    wanted_accounts: dict[str, dict[str, str]] = {}
    for row in rows:
        wanted = wanted_accounts.setdefault(row.account_id, {"name": row.account_name})
        for attr in ACCOUNT_COLUMNS.values():
            wanted[attr] = wanted.get(attr) or getattr(row, attr)
    changed_accounts: set[str] = set()
    for account_id, wanted in wanted_accounts.items():
        account = accounts.get(account_id)
        if account is None:
            account = Account(external_id=account_id, **wanted)
            accounts[account_id] = account
        elif any(getattr(account, f) != wanted[f] for f in fields):
            for f in fields:
                setattr(account, f, wanted[f])
        else:
            continue
        changed_accounts.add(account_id)
        account.import_record = record
        _save(account, user)
    return accounts, changed_accounts


def _write(
    rows: list[AgreementRow],
    stored: selectors.StoredAgreements,
    *,
    user: Any,
    result: ImportResult,
    record: Any = None,
) -> None:
    """Every agreement created or changed (its fields, rate card or milestones) points at
    ``record``, the import that last wrote it; undo finds what the import wrote by it."""
    accounts, changed_accounts = _write_accounts(rows, user=user, record=record)
    existing_pks = [a.pk for a in stored.by_id.values()]
    rates = selectors.role_rates_by_agreement(existing_pks)
    milestones = selectors.milestones_by_agreement(existing_pks)
    by_id = {r.external_id: r for r in rows}
    agreements: dict[str, Agreement] = dict(stored.by_id)

    # Parents before children, so a new child can point at a new parent.
    for row in sorted(rows, key=lambda r: (_depth(r, by_id), r.line)):
        stored_agreement = stored.by_id.get(row.external_id)
        parent = _parent(row, agreements)
        agreement, changed = _write_agreement(
            row, stored_agreement, parent, accounts[row.account_id], user, record
        )
        agreements[row.external_id] = agreement
        created = stored_agreement is None
        rates_changed = _sync_role_rates(
            agreement, row, rates.get(agreement.pk, []) if not created else [], user
        )
        milestones_changed = _sync_milestones(
            agreement, row, milestones.get(agreement.pk, []) if not created else [], user
        )
        if (rates_changed or milestones_changed) and not changed:
            # Only the rate card or the milestones changed: the agreement is still this import's.
            agreement.import_record = record
            _save(agreement, user)
        changed |= rates_changed or milestones_changed or row.account_id in changed_accounts
        if created:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1


def _parent(row: AgreementRow, agreements: dict[str, Agreement]) -> Agreement | None:
    """The row's parent: written earlier by this import or stored before it (added to
    ``agreements``)."""
    if not row.parent_id:
        return None
    parent = agreements.get(row.parent_id)
    if parent is None:
        # Stored parent outside the file (check_rows made sure it exists).
        parent = Agreement.objects.get(external_id=row.parent_id)
        agreements[row.parent_id] = parent
    return parent


def _write_agreement(
    row: AgreementRow,
    agreement: Agreement | None,
    parent: Agreement | None,
    account: Account,
    user: Any,
    record: Any,
) -> tuple[Agreement, bool]:
    """The agreement's own fields (account, parent, scalars) set from the row and saved when
    they changed. Returns it and whether it was created or changed."""
    created = agreement is None
    if agreement is None:
        agreement = Agreement(external_id=row.external_id)
        changed = True
    else:
        # Compare keys, as the row names them (Account ID, Parent Agreement ID).
        old_parent = agreement.parent.external_id if agreement.parent is not None else ""
        changed = agreement.account.external_id != row.account_id or old_parent != row.parent_id
    agreement.account = account
    agreement.parent = parent
    for name in AgreementRow.SCALARS:
        new = getattr(row, name)
        if created or getattr(agreement, name) != new:
            setattr(agreement, name, new)
            changed = True
    if changed:
        agreement.import_record = record
        _save(agreement, user)
    return agreement, changed


def _sync_role_rates(
    agreement: Agreement, row: AgreementRow, current: list[RoleRate], user: Any
) -> bool:
    changed = False
    by_key = {rr.role_key: rr for rr in current}
    for value in row.role_rates:
        rr = by_key.pop(value.role_key, None)
        if rr is None:
            rr = RoleRate(
                agreement=agreement, role=value.role, role_key=value.role_key, rate=value.rate
            )
        elif (rr.role, rr.rate) != (value.role, value.rate):
            rr.role, rr.rate = value.role, value.rate
        else:
            continue
        changed = True
        _save(rr, user)
    for rr in by_key.values():
        changed = True
        _delete(rr, user)
    return changed


def _sync_milestones(
    agreement: Agreement, row: AgreementRow, current: list[Milestone], user: Any
) -> bool:
    changed = False
    by_position = {ms.position: ms for ms in current}
    for value in row.milestones:
        ms = by_position.pop(value.position, None)
        if ms is None:
            ms = Milestone(
                agreement=agreement,
                position=value.position,
                name=value.name,
                percent=value.percent,
                due_date=value.due_date,
            )
        elif (ms.name, ms.percent, ms.due_date) != (value.name, value.percent, value.due_date):
            # completed_on stays: marking a milestone complete is not the CRM's business.
            ms.name, ms.percent, ms.due_date = value.name, value.percent, value.due_date
        else:
            continue
        changed = True
        _save(ms, user)
    for ms in by_position.values():  # never billed ones: check_rows refused removing those
        changed = True
        _delete(ms, user)
    return changed


def milestone_complete(*, milestone: Milestone, user: Any, completed_on: dt.date) -> Milestone:
    """Mark an undated Fixed Fee milestone complete on a date (SPEC 3: it is billed by the first
    run for a period ending on or after that date). Recorded with who and when in its history."""
    with transaction.atomic():
        ms = Milestone.objects.select_for_update().select_related("agreement").get(pk=milestone.pk)
        label = f"Milestone “{ms.name}” of {ms.agreement.external_id}"
        if ms.agreement.agreement_type != Agreement.Type.FIXED_FEE:
            raise BillingError(f"{label} is not on a Fixed Fee agreement.")
        if ms.due_date is not None:
            raise BillingError(
                f"{label} is dated {ms.due_date:%Y-%m-%d}: it is billed in that period and "
                "needs no completion."
            )
        if ms.completed_on is not None:
            raise BillingError(
                f"{label} was already marked complete on {ms.completed_on:%Y-%m-%d}."
            )
        if completed_on > firm_today():
            raise BillingError(
                f"{label}: the completion date {completed_on:%Y-%m-%d} is in the future."
            )
        if completed_on < ms.agreement.start_date:
            raise BillingError(
                f"{label}: the completion date {completed_on:%Y-%m-%d} is before the agreement "
                f"starts ({ms.agreement.start_date:%Y-%m-%d})."
            )
        ms.completed_on = completed_on
        ms.completed_by = user
        ms._history_user = user  # type: ignore[attr-defined]
        ms._change_reason = "marked complete"  # type: ignore[attr-defined]
        ms.save(update_fields=["completed_on", "completed_by"])
    return ms


def account_einvoice_mail_set(*, account: Account, ubl_by_email: bool, user: Any) -> Account:
    """Whether invoice e-mails to the account also attach the UBL file (SPEC 3.2; they always
    carry the Factur-X PDF). Not a CRM column, so an agreement import leaves it as it is. The
    change is in the account's history with `user`; setting the value it has is a no-op."""
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.einvoice_ubl_by_email != ubl_by_email:
            locked.einvoice_ubl_by_email = ubl_by_email
            locked._history_user = user  # type: ignore[attr-defined]
            locked._change_reason = (  # type: ignore[attr-defined]
                "UBL by e-mail turned on" if ubl_by_email else "UBL by e-mail turned off"
            )
            locked.save(update_fields=["einvoice_ubl_by_email", "updated_at"])
    return locked
