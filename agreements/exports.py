"""`export_agreements` (SPEC 5): every agreement with the columns of SPEC 1.1 as stored, in a
form the import reads back unchanged (amounts with 2 places, dates ISO, rate cards and
milestones in their import syntax)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from agreements.importing import COLUMNS
from agreements.models import Agreement
from core.exports import plain_decimal


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def agreement_export_rows(
    agreements: QuerySet[Agreement] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every agreement, or those of `agreements` in its order (the list page's filtered set)."""
    if agreements is None:
        agreements = Agreement.objects.order_by("external_id")
    agreements = agreements.select_related("account", "parent").prefetch_related(
        "role_rates", "milestones"
    )
    for a in agreements.iterator(chunk_size=500):
        account = a.account
        rates = sorted(a.role_rates.all(), key=lambda r: r.role_key)
        milestones = sorted(a.milestones.all(), key=lambda m: m.position)
        yield {
            "Agreement ID": a.external_id,
            "Parent Agreement ID": a.parent.external_id if a.parent_id else None,
            "Account ID": account.external_id,
            "Account Name": account.name,
            "Billing Email": account.billing_email or None,
            "Project Code": a.project_code,
            "Agreement Type": a.get_agreement_type_display(),
            "Stage": a.get_stage_display(),
            "Start Date": _iso(a.start_date),
            "End Date": _iso(a.end_date),
            "Hours Sold": plain_decimal(a.hours_sold, 2),
            "Not To Exceed Hours": plain_decimal(a.not_to_exceed_hours, 2),
            "Amount": plain_decimal(a.amount, 2),
            "Hourly Rate": plain_decimal(a.hourly_rate, 2),
            "Role Rates": "; ".join(f"{r.role}={r.rate:.2f}" for r in rates) or None,
            "Billing Increment": a.billing_increment,
            "Currency": a.currency,
            "Payment Terms": a.payment_terms,
            "PO Number": a.po_number or None,
            "Tax Rate": plain_decimal(a.tax_rate),
            "Milestones": "; ".join(
                f"{m.name}:{plain_decimal(m.percent)}"
                + (f":{m.due_date.isoformat()}" if m.due_date else "")
                for m in milestones
            )
            or None,
            "Agreement Name": a.name or None,
            "Billing Address": "; ".join(account.billing_address.splitlines()) or None,
            "Billing City": account.billing_city or None,
            "Billing Postal Code": account.billing_postal_code or None,
            "Billing Country": account.billing_country or None,
            "Buyer VAT ID": account.buyer_vat_id or None,
            "Buyer Reference": account.buyer_reference or None,
            "Tax Category": a.tax_category or None,
            "Tax Exemption Reason": a.tax_exemption_reason or None,
        }


EXPORT_COLUMNS = COLUMNS
