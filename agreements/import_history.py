"""Undo of an agreement import (SPEC 1.4, the import history page).

``agreement_import_undo(*, record_id, user)`` takes back what the import wrote, in one transaction
and with history naming ``user``: the agreements and accounts it created are deleted (their rate
cards and milestones with them), the ones it changed get back their version from before the import
(every field the import writes, the rate card and the milestones, from django-simple-history).

What the import wrote is found by the versions it left in history (``import_record`` and the change
reason "agreement import"). It is refused, with the reason and nothing changed, when a later
agreement import that wrote is still in force; when one of its agreements is billed (an invoice
line, draft or not, an entry billing or a prepaid block, found through the PROTECT relations by
``core.imports.protected_ids``; a billed milestone, by ``core.milestone_billing``); when one of
its agreements or accounts is no longer as the import left it; when an account it created is used
since (invoices, payments, portal contacts); and for an import written before agreement imports
recorded their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from agreements.importing import ACCOUNT_COLUMNS, AgreementRow, lock_imports
from agreements.models import Account, Agreement, Milestone, RoleRate
from agreements.services import CHANGE_REASON
from core import milestone_billing
from core.imports import UndoRefused, import_record_claim_undo, protected_ids

AGREEMENT_FIELDS = ("account_id", "parent_id", *AgreementRow.SCALARS, "import_record_id")
ACCOUNT_FIELDS = ("name", *ACCOUNT_COLUMNS.values(), "import_record_id")
ROLE_RATE_FIELDS = ("role", "role_key", "rate")
# completed_on stays as it is now on a milestone the import changed: completing is not the CRM's.
MILESTONE_FIELDS = ("position", "name", "percent", "due_date")


def _latest(history: Any, **filters: Any) -> dict[int, Any]:
    """The latest history version per row id among the versions matching ``filters``."""
    versions = history.objects.filter(**filters).order_by("id", "-history_date", "-history_id")
    return {v.id: v for v in versions.distinct("id")}


@dataclass
class Touched:
    """The rows of one model an import wrote: the version it left, the version before it (None =
    created by the import) and the row as it is now (None = deleted since)."""

    wrote: dict[int, Any]
    before: dict[int, Any]
    now: dict[int, Any]
    fields: tuple[str, ...]

    @classmethod
    def of(cls, model: Any, record: Any, fields: tuple[str, ...]) -> Touched:
        history = model.history.model
        wrote = _latest(history, import_record_id=record.pk, history_change_reason=CHANGE_REASON)
        wrote = {pk: v for pk, v in wrote.items() if v.history_type != "-"}
        before = _latest(history, id__in=list(wrote), history_date__lt=record.created_at)
        before = {pk: v for pk, v in before.items() if v.history_type != "-"}
        now = model.objects.select_for_update().in_bulk(list(wrote))
        return cls(wrote=wrote, before=before, now=now, fields=fields)

    @property
    def created(self) -> list[int]:
        return sorted(pk for pk in self.wrote if pk not in self.before)

    @property
    def changed(self) -> list[int]:
        return sorted(pk for pk in self.wrote if pk in self.before)

    def changed_since(self) -> list[str]:
        """External IDs of the rows that are no longer as the import left them."""
        return sorted(
            v.external_id
            for pk, v in self.wrote.items()
            if pk not in self.now
            or any(getattr(self.now[pk], f) != getattr(v, f) for f in self.fields)
        )


def _stamp(obj: Any, user: Any, reason: str) -> Any:
    obj._history_user = user
    obj._change_reason = reason
    return obj


def _refuse(what: str, ids: list[str], why: str) -> None:
    if ids:
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        raise UndoRefused(f"{what} {shown} {why}; this import cannot be undone.")


def _check(record: Any, agreements: Touched, accounts: Touched) -> None:
    if (record.created or record.updated) and not agreements.wrote and not accounts.wrote:
        raise UndoRefused(
            "This import was written before agreement imports recorded their rows; it cannot "
            "be undone. Import the earlier CRM export again instead."
        )
    _refuse("Agreement(s)", agreements.changed_since(), "changed since this import")
    _refuse("Account(s)", accounts.changed_since(), "changed since this import")
    ids = list(agreements.wrote)
    billed = protected_ids(Agreement, ids, include_hidden=True, skip=(Agreement,))
    billed |= set(
        Milestone.objects.filter(milestone_billing.billed_q(), agreement_id__in=ids).values_list(
            "agreement_id", flat=True
        )
    )
    names = sorted(agreements.wrote[pk].external_id for pk in billed)
    _refuse("Agreement(s)", names, "are billed (on an invoice, draft or not)")
    created = agreements.created
    orphans = Agreement.objects.filter(parent_id__in=created).exclude(pk__in=created)
    _refuse(
        "Agreement(s)",
        sorted(orphans.values_list("external_id", flat=True)),
        "have a parent this import created",
    )


def _restore_children(model: Any, agreement_ids: list[int], at: Any, fields: tuple[str, ...],
                      user: Any, reason: str) -> None:  # fmt: skip
    """Rate cards or milestones of the agreements back to their state at ``at``: rows added since
    are deleted, changed ones get their earlier values, deleted ones are recreated (same id)."""
    before = _latest(model.history.model, agreement_id__in=agreement_ids, history_date__lt=at)
    before = {pk: v for pk, v in before.items() if v.history_type != "-"}
    now = model.objects.select_for_update().filter(agreement_id__in=agreement_ids).in_bulk()
    for pk in sorted(set(now) - set(before)):
        _stamp(now[pk], user, reason).delete()
    for pk, version in sorted(before.items()):
        obj = now.get(pk)
        if obj is not None and all(getattr(obj, f) == getattr(version, f) for f in fields):
            continue
        recreate = obj is None
        if obj is None:
            obj = model(pk=pk, agreement_id=version.agreement_id)
            if model is Milestone:
                obj.completed_on, obj.completed_by_id = (
                    version.completed_on,
                    version.completed_by_id,
                )
        for f in fields:
            setattr(obj, f, getattr(version, f))
        _stamp(obj, user, reason).save(force_insert=recreate)


def _restore(touched: Touched, pks: list[int], user: Any, reason: str) -> None:
    for pk in pks:
        obj, version = touched.now[pk], touched.before[pk]
        for f in touched.fields:
            setattr(obj, f, getattr(version, f))
        _stamp(obj, user, reason).save()


def _delete_agreements(pks: list[int], now: dict[int, Agreement], user: Any, reason: str) -> None:
    # Children were created after their parents (the import writes parents first): newest first.
    for pk in sorted(pks, reverse=True):
        for child in (
            *RoleRate.objects.filter(agreement_id=pk),
            *Milestone.objects.filter(agreement_id=pk),
        ):
            _stamp(child, user, reason).delete()
        _stamp(now[pk], user, reason).delete()


def agreement_import_undo(*, record_id: int, user: Any) -> dict[str, int]:
    """See the module docstring. Counts agreements and accounts: ``deleted`` the ones the import
    created, ``restored`` the ones it changed. Raises UndoRefused (nothing changed) with why."""
    with transaction.atomic():
        lock_imports("agreements")
        record = import_record_claim_undo(record_id=record_id, kind="agreements", user=user)
        agreements = Touched.of(Agreement, record, AGREEMENT_FIELDS)
        accounts = Touched.of(Account, record, ACCOUNT_FIELDS)
        _check(record, agreements, accounts)
        reason = f"undo of import {record.pk}"
        changed = agreements.changed
        _restore(agreements, changed, user, reason)
        for model, fields in ((RoleRate, ROLE_RATE_FIELDS), (Milestone, MILESTONE_FIELDS)):
            _restore_children(model, changed, record.created_at, fields, user, reason)
        _delete_agreements(agreements.created, agreements.now, user, reason)
        _restore(accounts, accounts.changed, user, reason)
        used = protected_ids(Account, accounts.created)
        _refuse(
            "Account(s)",
            sorted(accounts.wrote[pk].external_id for pk in used),
            "are used since (other agreements, invoices, payments or portal contacts)",
        )
        for pk in accounts.created:
            _stamp(accounts.now[pk], user, reason).delete()
    return {
        "deleted": len(agreements.created) + len(accounts.created),
        "restored": len(changed) + len(accounts.changed),
    }
