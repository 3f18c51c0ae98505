"""What approval asks before it freezes an invoice (SPEC 3.2): could its e-invoices be valid?

`credit_note_check(note)` asks the same of a credit note before it is numbered.

`einvoice_parties_for_approval(invoice)` returns the seller/buyer snapshot that approval stores
on the invoice, or raises `BillingError` naming the missing field and the EN 16931 rule that
needs it. The rules checked are the ones our data can break (settings left blank, a customer
without a VAT ID on a reverse-charge line); the rest hold by construction and the test suite
runs the official validator over every kind of invoice we produce.
"""

from __future__ import annotations

from typing import Any

from agreements.models import EXEMPT_CATEGORIES
from core.countries import is_country_code
from core.errors import BillingError
from core.money import format_money
from invoicing.einvoice import parties
from invoicing.einvoice.document import Document, credit_note_document, invoice_document

# VAT categories whose invoices must carry the seller's VAT ID (BR-S-02, BR-Z-02, BR-E-02,
# BR-AE-02, BR-IC-02, BR-G-02) and those that need the buyer's too (BR-AE-02, BR-IC-02).
SELLER_VAT_RULES = {"S": "BR-S-02", "Z": "BR-Z-02", "E": "BR-E-02", "AE": "BR-AE-02"}
SELLER_VAT_RULES |= {"K": "BR-IC-02", "G": "BR-G-02"}
BUYER_VAT_RULES = {"AE": "BR-AE-02", "K": "BR-IC-02"}


def problems(doc: Document) -> list[str]:
    """Every reason the document's e-invoice would fail EN 16931, as readable sentences."""
    out: list[str] = []
    seller, buyer = doc.seller, doc.buyer
    if not seller.name:
        out.append("BILLING_FIRM_NAME is not set: the seller's name is required (BR-06).")
    if not is_country_code(seller.country):
        out.append(
            f"BILLING_FIRM_COUNTRY must be an ISO 3166-1 alpha-2 code, got {seller.country!r} "
            "(the seller's country is required, BR-09)."
        )
    if not is_country_code(buyer.country):
        out.append(
            f"Account {buyer.account_id} has no valid Billing Country, got {buyer.country!r} "
            "(the buyer's country is required, BR-11)."
        )
    categories = doc.categories
    for category in sorted(categories):
        rule = SELLER_VAT_RULES.get(category)
        if rule and not seller.vat_id:
            out.append(
                f"BILLING_FIRM_VAT_ID is not set: an invoice with VAT category {category} must "
                f"carry the seller's VAT ID ({rule})."
            )
        rule = BUYER_VAT_RULES.get(category)
        if rule and not buyer.vat_id:
            out.append(
                f"Account {buyer.account_id} has no Buyer VAT ID: VAT category {category} needs "
                f"the buyer's VAT ID ({rule})."
            )
    if "O" in categories and len(categories) > 1:
        out.append(
            "Lines outside the scope of VAT (category O) cannot share an invoice with other VAT "
            "categories (BR-O-11); bill them separately."
        )
    for group in doc.taxes:
        if group.category in EXEMPT_CATEGORIES and not group.exemption_reason:
            out.append(
                f"The {group.category} lines have no Tax Exemption Reason (required for VAT "
                f"category {group.category}); set it on the agreement."
            )
    return out


def einvoice_parties_for_approval(invoice: Any) -> dict[str, Any]:
    """The `Invoice.parties` snapshot to freeze, once the e-invoices could be valid."""
    snapshot = parties.snapshot(
        account=invoice.account,
        billing_email=invoice.billing_email,
        buyer_reference=invoice.account.buyer_reference,
    )
    invoice.parties = snapshot
    found = problems(invoice_document(invoice))
    if found:
        invoice.parties = {}
        raise BillingError(
            f"Draft #{invoice.pk} cannot be approved: its e-invoice would be invalid. "
            + " ".join(found)
        )
    return snapshot


def credit_note_check(note: Any) -> None:
    """Refuse (BillingError naming the missing field) a credit note whose e-invoice could not be
    valid: its invoice's parties (frozen at approval, live for an invoice approved before they
    were) and a credited amount that leaves at least one line in every tax category it
    credits (BR-16)."""
    doc = credit_note_document(note)
    found = problems(doc)
    if not doc.lines:
        found.append(
            f"{format_money(note.amount, note.currency)} is too small to credit in proportion to the "
            "invoice's tax categories (an e-invoice needs at least one line, BR-16)."
        )
    if found:
        raise BillingError(
            f"No credit note on invoice {note.invoice}: its e-invoice would be invalid. "
            + " ".join(found)
        )
