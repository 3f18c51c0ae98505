"""One row of a CRM agreements export (SPEC 1.1): ``parse_row(row, errors)`` turns a ``csvio.Row``
into an ``AgreementRow``, recording every problem of that row. Reads nothing else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from agreements.models import (
    AGREEMENT_TERMS,
    BILLING_INCREMENTS,
    EXEMPT_CATEGORIES,
    TAX_CATEGORIES,
    Agreement,
    default_tax_category,
)
from agreements.pricing import role_key
from core import csvio
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
    SCALARS = AGREEMENT_TERMS


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


def _party(f: csvio.Fields) -> dict[str, str]:
    """Who and what: the IDs, the account's name and e-mail, the Project Code."""
    out = {
        "external_id": f.text("Agreement ID", required=True, max_length=64),
        "parent_id": f.text("Parent Agreement ID", max_length=64),
        "account_id": f.text("Account ID", required=True, max_length=64),
        "account_name": f.text("Account Name", required=True, max_length=255),
        "billing_email": f.text("Billing Email", max_length=254),
    }
    if out["billing_email"]:
        try:
            validate_email(out["billing_email"])
        except ValidationError:
            f.error("Billing Email", f"is not an e-mail address, got {out['billing_email']!r}")
    out["project_code"] = f.text("Project Code", required=True, max_length=64)
    return out


def _kind(f: csvio.Fields) -> tuple[Any, Any]:
    """(Agreement Type, Stage), None for a missing or unknown one (the error is recorded)."""
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
    return agreement_type, stage


def _dates(f: csvio.Fields) -> tuple[dt.date | None, dt.date | None]:
    start = f.date("Start Date", required=True)
    end = f.date("End Date")
    if start and end and end < start:
        f.error("End Date", f"must not be before Start Date ({start.isoformat()})")
    return start, end


def _terms(f: csvio.Fields, agreement_type: Any) -> dict[str, Any]:
    """Hours, money, rates, increment, currency, payment terms, tax, name, buyer, milestones."""
    hours = {"places": 2, "minimum": Decimal(0), "exclusive_minimum": True, "maximum": MAX_HOURS}
    out: dict[str, Any] = {
        "hours_sold": f.decimal("Hours Sold", **hours),
        "not_to_exceed_hours": f.decimal("Not To Exceed Hours", **hours),
        "amount": f.amount("Amount"),
        "hourly_rate": f.decimal("Hourly Rate", places=2, minimum=Decimal(0), max_digits=12),
        "role_rates": _role_rates(f),
    }
    increment = f.whole("Billing Increment", default=15, maximum=60)
    if increment is not None and increment not in BILLING_INCREMENTS:
        f.error(
            "Billing Increment",
            f"must be one of {', '.join(map(str, BILLING_INCREMENTS))} minutes, got {increment}",
        )
    out["billing_increment"] = increment or 15
    out["currency"] = f.currency("Currency") or "USD"
    terms = f.whole("Payment Terms", default=30, maximum=3650)
    out["payment_terms"] = 30 if terms is None else terms
    out["po_number"] = f.text("PO Number", max_length=64)
    tax_rate = f.decimal("Tax Rate", places=3, minimum=Decimal(0), maximum=Decimal(100))
    bad_rate = bool(f.raw("Tax Rate")) and tax_rate is None
    out["tax_rate"] = tax_rate if tax_rate is not None else Decimal(0)
    out["tax_category"], out["tax_exemption_reason"] = _tax_category(
        f, None if bad_rate else tax_rate or Decimal(0)
    )
    out["name"] = f.text("Agreement Name", max_length=200)
    out.update(_buyer(f))
    out["milestones"] = []
    if f.raw("Milestones") and agreement_type in (None, Agreement.Type.FIXED_FEE):
        out["milestones"] = _milestones(f)
    return out


def _type_rules(f: csvio.Fields, agreement_type: Any, nte: Decimal | None) -> None:
    """What each Agreement Type needs and what only one type may have."""
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


def parse_row(row: csvio.Row, errors: list[RowError]) -> AgreementRow | None:
    f = csvio.Fields(row, COLUMNS, errors)
    party = _party(f)
    agreement_type, stage = _kind(f)
    start, end = _dates(f)
    terms = _terms(f, agreement_type)
    _type_rules(f, agreement_type, terms["not_to_exceed_hours"])
    if not f.ok:
        return None
    assert start is not None and agreement_type is not None and stage is not None
    if agreement_type == Agreement.Type.FIXED_FEE and not terms["milestones"]:
        # Decision: invoicing only ever bills Milestone rows, so the implicit 100% is stored.
        terms["milestones"] = [MilestoneValue(1, DEFAULT_MILESTONE_NAME, Decimal(100), start)]
    return AgreementRow(
        line=row.line,
        agreement_type=agreement_type,
        stage=stage,
        start_date=start,
        end_date=end,
        **party,
        **terms,
    )
