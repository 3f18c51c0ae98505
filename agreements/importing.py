"""Parsing and checking a CRM agreements export (SPEC 1.1). Reads the database, never writes.

``parse_row(row, errors)`` turns one ``csvio.Row`` into an ``AgreementRow``, recording every
problem of that row; ``check_rows(parsed, bad_ids, errors)`` adds the problems that need other
rows or the database (repeated IDs, accounts that disagree, parents, overlapping
signed agreements, already-billed milestones). ``agreements.services.agreement_import`` writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from agreements import selectors
from agreements.models import (
    BILLING_INCREMENTS,
    EXEMPT_CATEGORIES,
    TAX_CATEGORIES,
    Agreement,
    default_tax_category,
)
from agreements.pricing import role_key
from core import csvio, locks
from core.countries import is_country_code
from core.imports import RowError

COLUMNS = (
    "Agreement ID",
    "Parent Agreement ID",
    "Account ID",
    "Account Name",
    "Billing Email",
    "Project Code",
    "Agreement Type",
    "Stage",
    "Start Date",
    "End Date",
    "Hours Sold",
    "Not To Exceed Hours",
    "Amount",
    "Hourly Rate",
    "Role Rates",
    "Billing Increment",
    "Currency",
    "Payment Terms",
    "PO Number",
    "Tax Rate",
    "Milestones",
    "Agreement Name",
    "Billing Address",
    "Billing City",
    "Billing Postal Code",
    "Billing Country",
    "Buyer VAT ID",
    "Buyer Reference",
    "Tax Category",
    "Tax Exemption Reason",
)
REQUIRED = (
    "Agreement ID",
    "Account ID",
    "Account Name",
    "Project Code",
    "Agreement Type",
    "Stage",
    "Start Date",
)

TYPES = {
    "time and materials": Agreement.Type.TIME_AND_MATERIALS,
    "fixed fee": Agreement.Type.FIXED_FEE,
    "prepaid hours": Agreement.Type.PREPAID_HOURS,
}
STAGES = {
    "signed": Agreement.Stage.SIGNED,
    "closed won": Agreement.Stage.SIGNED,
    "draft": Agreement.Stage.DRAFT,
    "cancelled": Agreement.Stage.CANCELLED,
    "canceled": Agreement.Stage.CANCELLED,
    "closed lost": Agreement.Stage.CANCELLED,
}
# Columns that describe the account, not the agreement: rows naming one Account ID agree on the
# ones they fill (SPEC 1.1). Column -> AgreementRow attribute (= Account field).
ACCOUNT_COLUMNS = {
    "Billing Email": "billing_email",
    "Billing Address": "billing_address",
    "Billing City": "billing_city",
    "Billing Postal Code": "billing_postal_code",
    "Billing Country": "billing_country",
    "Buyer VAT ID": "buyer_vat_id",
    "Buyer Reference": "buyer_reference",
}
DEFAULT_MILESTONE_NAME = "Fixed fee"
MAX_HOURS = Decimal("9999999999.99")  # DecimalField(12, 2)


@dataclass(frozen=True)
class RoleRateValue:
    role: str
    role_key: str
    rate: Decimal


@dataclass(frozen=True)
class MilestoneValue:
    position: int
    name: str
    percent: Decimal
    due_date: dt.date | None


@dataclass
class AgreementRow:
    line: int
    external_id: str
    parent_id: str
    account_id: str
    account_name: str
    billing_email: str
    project_code: str
    agreement_type: str
    stage: str
    start_date: dt.date
    end_date: dt.date | None
    hours_sold: Decimal | None
    not_to_exceed_hours: Decimal | None
    amount: Decimal | None
    hourly_rate: Decimal | None
    billing_increment: int
    currency: str
    payment_terms: int
    po_number: str
    tax_rate: Decimal
    role_rates: list[RoleRateValue] = field(default_factory=list)
    milestones: list[MilestoneValue] = field(default_factory=list)
    name: str = ""
    tax_category: str = ""
    tax_exemption_reason: str = ""
    billing_address: str = ""
    billing_city: str = ""
    billing_postal_code: str = ""
    billing_country: str = ""
    buyer_vat_id: str = ""
    buyer_reference: str = ""

    # Fields stored on Agreement itself, compared to decide created / updated / unchanged.
    SCALARS = (
        "project_code",
        "agreement_type",
        "stage",
        "start_date",
        "end_date",
        "hours_sold",
        "not_to_exceed_hours",
        "amount",
        "hourly_rate",
        "billing_increment",
        "currency",
        "payment_terms",
        "po_number",
        "tax_rate",
        "name",
        "tax_category",
        "tax_exemption_reason",
    )


def _role_rates(f: csvio.Fields) -> list[RoleRateValue]:
    text = f.raw("Role Rates")
    out: list[RoleRateValue] = []
    if not text:
        return out
    seen: set[str] = set()
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        role, sep, rate_text = part.partition("=")
        role, rate_text = role.strip(), rate_text.strip()
        if not sep or not role or not rate_text:
            f.error("Role Rates", f"each entry must be Role=Rate (e.g. Engineer=150), got {part!r}")
            return []
        if len(role) > 100:
            f.error("Role Rates", f"role {role[:20]!r}... is longer than 100 characters")
            return []
        key = role_key(role)
        if key in seen:
            f.error("Role Rates", f"role {role!r} appears twice")
            return []
        seen.add(key)
        try:
            rate = csvio.parse_decimal(rate_text, places=2, minimum=Decimal(0), max_digits=12)
        except csvio.FieldError as exc:
            f.error("Role Rates", f"rate for {role!r} {exc}")
            return []
        out.append(RoleRateValue(role, key, rate))
    if not out:
        f.error("Role Rates", "must list at least one Role=Rate when given")
    return out


def _milestones(f: csvio.Fields) -> list[MilestoneValue]:
    text = f.raw("Milestones")
    out: list[MilestoneValue] = []
    total = Decimal(0)
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        pieces = [p.strip() for p in part.split(":")]
        if len(pieces) not in (2, 3) or not pieces[0] or not pieces[1]:
            f.error("Milestones", f"each milestone must be Name:Percent[:YYYY-MM-DD], got {part!r}")
            return []
        name = pieces[0]
        if len(name) > 200:
            f.error("Milestones", f"milestone name {name[:20]!r}... is longer than 200 characters")
            return []
        try:
            percent = csvio.parse_decimal(
                pieces[1].rstrip("%").strip(),
                places=3,
                minimum=Decimal(0),
                exclusive_minimum=True,
                maximum=Decimal(100),
            )
        except csvio.FieldError as exc:
            f.error("Milestones", f"percent of {name!r} {exc}")
            return []
        due = None
        if len(pieces) == 3 and pieces[2]:
            try:
                due = csvio.parse_date(pieces[2])
            except csvio.FieldError as exc:
                f.error("Milestones", f"date of {name!r} {exc}")
                return []
        total += percent
        out.append(MilestoneValue(len(out) + 1, name, percent, due))
    if not out:
        f.error("Milestones", "must list at least one Name:Percent when given")
        return []
    if total != 100:
        f.error("Milestones", f"percents must sum to 100, they sum to {total.normalize():f}")
        return []
    return out


def _address(f: csvio.Fields) -> str:
    """Street lines as stored: one per line, from a cell that separates them by real line
    breaks, a written `\\n`, or `; `."""
    text = f.text("Billing Address", max_length=500)
    parts = text.replace("\\n", "\n").replace("; ", "\n").splitlines()
    return "\n".join(p.strip() for p in parts if p.strip())


def _buyer(f: csvio.Fields) -> dict[str, str]:
    country = f.text("Billing Country", max_length=2).upper()
    if country and not is_country_code(country):
        f.error("Billing Country", f"must be an ISO 3166-1 alpha-2 code (e.g. DE), got {country!r}")
    return {
        "billing_address": _address(f),
        "billing_city": f.text("Billing City", max_length=100),
        "billing_postal_code": f.text("Billing Postal Code", max_length=20),
        "billing_country": country,
        "buyer_vat_id": "".join(f.text("Buyer VAT ID", max_length=40).split()).upper(),
        "buyer_reference": f.text("Buyer Reference", max_length=100),
    }


def _tax_category(f: csvio.Fields, rate: Decimal | None) -> tuple[str, str]:
    """(category, exemption reason); the category defaults to S or Z by the rate (SPEC 1.1) and
    must fit it: S charges tax, every other category is at 0% (EN 16931 BR-S-05, BR-Z-05, ...)."""
    given = f.text("Tax Category").upper()
    reason = f.text("Tax Exemption Reason", max_length=300)
    if given and given not in TAX_CATEGORIES:
        f.error("Tax Category", f"must be one of {', '.join(TAX_CATEGORIES)}, got {given!r}")
        return "", reason
    if rate is None:
        return given, reason
    category = given or default_tax_category(rate)
    if category == "S" and rate == 0:
        f.error("Tax Category", "S (standard rate) needs a Tax Rate above 0")
    elif category != "S" and rate != 0:
        f.error(
            "Tax Category", f"{category} is charged at 0%, but Tax Rate is {rate.normalize():f}"
        )
    if category in EXEMPT_CATEGORIES and not reason:
        f.error("Tax Exemption Reason", f"is required for Tax Category {category}")
    elif category not in EXEMPT_CATEGORIES and reason:
        f.error(
            "Tax Exemption Reason",
            f"applies only to Tax Category {', '.join(sorted(EXEMPT_CATEGORIES))}",
        )
    return category, reason


def parse_row(row: csvio.Row, errors: list[RowError]) -> AgreementRow | None:
    f = csvio.Fields(row, COLUMNS, errors)
    external_id = f.text("Agreement ID", required=True, max_length=64)
    parent_id = f.text("Parent Agreement ID", max_length=64)
    account_id = f.text("Account ID", required=True, max_length=64)
    account_name = f.text("Account Name", required=True, max_length=255)
    billing_email = f.text("Billing Email", max_length=254)
    if billing_email:
        try:
            validate_email(billing_email)
        except ValidationError:
            f.error("Billing Email", f"is not an e-mail address, got {billing_email!r}")
    project_code = f.text("Project Code", required=True, max_length=64)

    type_text = f.text("Agreement Type", required=True)
    agreement_type = TYPES.get(" ".join(type_text.lower().split())) if type_text else None
    if type_text and agreement_type is None:
        f.error(
            "Agreement Type",
            f"must be Time and Materials, Fixed Fee or Prepaid Hours, got {type_text!r}",
        )
    stage_text = f.text("Stage", required=True)
    stage = STAGES.get(" ".join(stage_text.lower().split())) if stage_text else None
    if stage_text and stage is None:
        f.error(
            "Stage",
            "must be Signed (or Closed Won), Draft, or Cancelled (or Closed Lost), "
            f"got {stage_text!r}",
        )

    start = f.date("Start Date", required=True)
    end = f.date("End Date")
    if start and end and end < start:
        f.error("End Date", f"must not be before Start Date ({start.isoformat()})")

    hours = {"places": 2, "minimum": Decimal(0), "exclusive_minimum": True, "maximum": MAX_HOURS}
    hours_sold = f.decimal("Hours Sold", **hours)
    nte = f.decimal("Not To Exceed Hours", **hours)
    amount = f.amount("Amount")
    hourly_rate = f.decimal("Hourly Rate", places=2, minimum=Decimal(0), max_digits=12)
    role_rates = _role_rates(f)
    increment = f.whole("Billing Increment", default=15, maximum=60)
    if increment is not None and increment not in BILLING_INCREMENTS:
        f.error(
            "Billing Increment",
            f"must be one of {', '.join(map(str, BILLING_INCREMENTS))} minutes, got {increment}",
        )
    currency = f.currency("Currency")
    terms = f.whole("Payment Terms", default=30, maximum=3650)
    po_number = f.text("PO Number", max_length=64)
    tax_rate = f.decimal("Tax Rate", places=3, minimum=Decimal(0), maximum=Decimal(100))
    bad_rate = bool(f.raw("Tax Rate")) and tax_rate is None
    tax_category, exemption = _tax_category(f, None if bad_rate else tax_rate or Decimal(0))
    name = f.text("Agreement Name", max_length=200)
    buyer = _buyer(f)
    milestones = []
    if f.raw("Milestones") and agreement_type in (None, Agreement.Type.FIXED_FEE):
        milestones = _milestones(f)

    if agreement_type in (Agreement.Type.TIME_AND_MATERIALS, Agreement.Type.PREPAID_HOURS):
        if not f.raw("Hourly Rate") and not f.raw("Role Rates"):
            f.error(
                "Hourly Rate",
                "a Time and Materials or Prepaid Hours agreement needs an Hourly Rate or Role Rates",
            )
    if agreement_type in (Agreement.Type.FIXED_FEE, Agreement.Type.PREPAID_HOURS):
        if not f.raw("Amount"):
            label = "Fixed Fee" if agreement_type == Agreement.Type.FIXED_FEE else "Prepaid Hours"
            f.error("Amount", f"is required for a {label} agreement")
    if agreement_type == Agreement.Type.PREPAID_HOURS and not f.raw("Hours Sold"):
        f.error("Hours Sold", "is required for a Prepaid Hours agreement (the block size)")
    if f.raw("Milestones") and agreement_type not in (None, Agreement.Type.FIXED_FEE):
        f.error("Milestones", "only a Fixed Fee agreement has milestones")
    if nte is not None and agreement_type not in (None, Agreement.Type.TIME_AND_MATERIALS):
        f.error("Not To Exceed Hours", "only a Time and Materials agreement has a cap")

    if not f.ok:
        return None
    assert start is not None and agreement_type is not None and stage is not None
    if agreement_type == Agreement.Type.FIXED_FEE and not milestones:
        # Decision: invoicing only ever bills Milestone rows, so the implicit 100% is stored.
        milestones = [MilestoneValue(1, DEFAULT_MILESTONE_NAME, Decimal(100), start)]
    return AgreementRow(
        line=row.line,
        external_id=external_id,
        parent_id=parent_id,
        account_id=account_id,
        account_name=account_name,
        billing_email=billing_email,
        project_code=project_code,
        agreement_type=agreement_type,
        stage=stage,
        start_date=start,
        end_date=end,
        hours_sold=hours_sold,
        not_to_exceed_hours=nte,
        amount=amount,
        hourly_rate=hourly_rate,
        billing_increment=increment or 15,
        currency=currency or "USD",
        payment_terms=30 if terms is None else terms,
        po_number=po_number,
        tax_rate=tax_rate if tax_rate is not None else Decimal(0),
        role_rates=role_rates,
        milestones=milestones,
        name=name,
        tax_category=tax_category,
        tax_exemption_reason=exemption,
        **buyer,
    )


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
    rejected: set[int] = set()

    def reject(row: AgreementRow, column: str, message: str) -> None:
        errors.append(RowError(row.line, column, message))
        rejected.add(row.line)

    # Repeated keys in the file.
    by_id: dict[str, AgreementRow] = {}
    for row in parsed:
        first = by_id.get(row.external_id)
        if first is not None:
            reject(row, "Agreement ID", f"{row.external_id} repeats line {first.line}")
        else:
            by_id[row.external_id] = row
    rows = [r for r in parsed if r.line not in rejected]

    # One account, one name, e-mail, address, VAT ID and reference in a file.
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

    file_ids = set(by_id)
    stored = selectors.agreements_for_import(
        ids=file_ids | {r.parent_id for r in rows if r.parent_id},
        project_codes={r.project_code for r in rows},
    )
    # The agreements as they will be after the import: stored ones overridden by the file.
    final: dict[str, tuple[str, str, str]] = {
        a.external_id: (a.account.external_id, a.currency, a.parent.external_id if a.parent else "")
        for a in stored.by_id.values()
    }
    for row in rows:
        final[row.external_id] = (row.account_id, row.currency, row.parent_id)

    # Parents: exist, same account and currency, no loops.
    for row in rows:
        if not row.parent_id:
            continue
        if row.parent_id == row.external_id:
            reject(row, "Parent Agreement ID", "an agreement cannot be its own parent")
            continue
        parent = final.get(row.parent_id)
        if parent is None:
            if row.parent_id not in bad_ids:
                reject(
                    row,
                    "Parent Agreement ID",
                    f"agreement {row.parent_id} does not exist (not in this file and not imported before)",
                )
            continue
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
    # Stored children (not in the file) of a row whose account or currency changes.
    for child in stored.children_outside(file_ids):
        parent_row = by_id.get(child.parent.external_id)
        if parent_row is None or parent_row.line in rejected:
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

    # Overlapping signed agreements on one Project Code (file and database, open end = infinity).
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

    # Milestones already billed never change.
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
                continue
            changes = []
            if new.name != ms.name:
                changes.append(f"name {ms.name!r} -> {new.name!r}")
            if new.percent != ms.percent:
                changes.append(f"percent {ms.percent.normalize():f} -> {new.percent.normalize():f}")
            if new.due_date != ms.due_date:
                old = ms.due_date.isoformat() if ms.due_date else "none"
                changes.append(
                    f"date {old} -> {new.due_date.isoformat() if new.due_date else 'none'}"
                )
            if changes:
                reject(
                    row,
                    "Milestones",
                    f"milestone {ms.name!r} is already billed and cannot change ({'; '.join(changes)})",
                )
        if existing.amount is not None and row.amount != existing.amount:
            reject(
                row,
                "Amount",
                f"cannot change from {existing.amount} because milestones of this agreement are already billed",
            )

    return [r for r in rows if r.line not in rejected], stored


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


def lock_imports(name: str) -> None:
    """Serialize imports of one kind (PostgreSQL advisory lock held to the end of the transaction),
    so two uploads of overlapping files cannot both pass the checks and then collide."""
    locks.import_lock(name)
