"""Invoice and credit note PDFs (WeasyPrint, templates/invoicing/pdf/), through the one safe
renderer `core.pdf.render_pdf`: fonts are local (DejaVu), nothing is fetched from the
network or from outside templates/.

The letterhead is core's (`core.pdf.firm_letterhead`, `templates/core/pdf/letterhead.html`); the
invoice prints the seller frozen on its document with the firm's logo.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agreements.models import Agreement
from core.pdf import firm_letterhead, render_pdf
from invoicing import generation as gen
from invoicing.einvoice.cii import cii_xml
from invoicing.einvoice.document import Document, credit_note_document, invoice_document
from invoicing.einvoice.facturx import PDF_VARIANT, facturx_pdf
from invoicing.models import CreditNote, EntryBilling, Invoice, InvoiceLine
from timesheets.models import MS_PER_HOUR
from timesheets.ordering import entry_order_by

# The invoice and credit note PDFs' one stylesheet (core.pdf.stylesheet: parsed once per process).
STYLESHEETS = ("core/pdf/letterhead.css", "invoicing/pdf/invoice.css")


def percent(rate: Decimal) -> str:
    """8.875 -> '8.875', 20.000 -> '20', 0 -> '0': the one way rates are printed."""
    text = f"{rate:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


CATEGORY_NAMES = {
    "S": "Standard rate",
    "Z": "Zero rated",
    "E": "Exempt",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Outside the scope of VAT",
}


def document_context(doc: Document) -> dict[str, Any]:
    """What the seller, buyer, tax and payment blocks of both PDFs print."""
    return {
        "doc": doc,
        "seller": doc.seller,
        "buyer": doc.buyer,
        "payee": doc.payee,
        "taxes": [
            {
                "category": t.category,
                "category_name": CATEGORY_NAMES.get(t.category, t.category),
                "rate": percent(t.rate),
                "base": t.base,
                "tax": t.tax,
                "exemption_reason": t.exemption_reason,
            }
            for t in doc.taxes
        ],
    }


@dataclass
class LineGroup:
    agreement: Agreement | None
    depth: int
    parent_external_id: str = ""
    lines: list[InvoiceLine] = field(default_factory=list)


def group_lines(lines: list[InvoiceLine], account_id: int) -> list[LineGroup]:
    """Lines grouped by agreement: a parent first, its children (on this invoice) under it,
    in Agreement ID order; manual lines without an agreement last."""
    by_agreement: dict[int | None, list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        by_agreement[line.agreement_id].append(line)
    present = {a for a in by_agreement if a is not None}
    if not present:
        return [LineGroup(agreement=None, depth=0, lines=lines)] if lines else []
    on_lines = {line.agreement_id: line.agreement for line in lines if line.agreement_id}
    agreements: dict[int, Agreement] = {}
    if any(a.parent_id is not None for a in on_lines.values()):
        # Only a line's agreement with a parent needs the account's tree (the nearest ancestor
        # with lines here may be several levels up); without one every group is a top group.
        agreements = {
            a.pk: a
            for a in Agreement.objects.filter(account_id=account_id).only(
                "id", "parent_id", "external_id", "project_code", "agreement_type"
            )
        }
    agreements.update(on_lines)

    def shown_parent(a_id: int) -> int | None:
        """Nearest ancestor that has lines on this invoice."""
        seen = {a_id}
        parent = agreements[a_id].parent_id
        while parent is not None and parent in agreements and parent not in seen:
            if parent in present:
                return parent
            seen.add(parent)
            parent = agreements[parent].parent_id
        return None

    children: dict[int | None, list[int]] = defaultdict(list)
    for a_id in present:
        children[shown_parent(a_id)].append(a_id)
    groups: list[LineGroup] = []

    def visit(a_id: int, depth: int, parent_ext: str) -> None:
        agreement = agreements[a_id]
        groups.append(LineGroup(agreement, depth, parent_ext, by_agreement[a_id]))
        for child in sorted(children[a_id], key=lambda c: agreements[c].external_id):
            visit(child, depth + 1, agreement.external_id)

    for top in sorted(children[None], key=lambda c: agreements[c].external_id):
        visit(top, 0, "")
    if by_agreement.get(None):
        groups.append(LineGroup(agreement=None, depth=0, lines=by_agreement[None]))
    return groups


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    lines = list(
        InvoiceLine.objects.filter(invoice_id=invoice.pk)
        .select_related("agreement")
        .order_by("position", "id")
    )
    doc = invoice_document(invoice, lines)
    # The document's lines are the invoice lines in the same order: each printed row shows the
    # customer-facing quantity, unit, price and discount of its line.
    for line, doc_line in zip(lines, doc.lines, strict=True):
        line.doc = doc_line  # type: ignore[attr-defined]
        line.rate_text = percent(doc_line.tax_rate)  # type: ignore[attr-defined]
    billings = (
        EntryBilling.objects.filter(invoice_id=invoice.pk)
        .select_related("entry__employee")
        .order_by(*entry_order_by("entry__"))
    )
    appendix = [
        {
            "date": eb.entry.date,
            "entry_id": eb.entry.external_id,
            "employee": eb.entry.employee.name or eb.entry.employee.external_id,
            "role": eb.entry.role,
            "hours": (Decimal(eb.entry.duration_ms) / MS_PER_HOUR).quantize(Decimal("0.01")),
            "rounded_hours": gen.hours_from_minutes(eb.rounded_minutes),
            "block_hours": gen.hours_from_minutes(eb.block_minutes) if eb.block_minutes else None,
            "notes": eb.entry.notes,
        }
        for eb in billings
    ]
    status = invoice.status
    watermark = {"draft": "DRAFT", "rejected": "REJECTED"}.get(status, "")
    return {
        **document_context(doc),
        "firm": firm_letterhead(),
        "invoice": invoice,
        "account": invoice.account,
        "groups": group_lines(lines, invoice.account_id),
        "net": doc.net,
        "tax": doc.tax,
        "total": doc.total,
        "appendix": appendix,
        "watermark": watermark,
        "line_count": len(lines),
    }


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as PDF bytes: watermarked DRAFT before approval; once approved, the final
    Factur-X (PDF/A-3 with its CII XML embedded, SPEC 3.2)."""
    context = invoice_context(invoice)
    if not invoice.is_final:
        return render_pdf("invoicing/pdf/invoice.html", context, stylesheets=STYLESHEETS)
    pdf = render_pdf(
        "invoicing/pdf/invoice.html", context, pdf_variant=PDF_VARIANT, stylesheets=STYLESHEETS
    )
    return facturx_pdf(pdf, cii_xml(context["doc"]), context["doc"])


def credit_note_pdf(note: CreditNote) -> bytes:
    """The credit note as a Factur-X PDF (PDF/A-3 with its CII XML embedded)."""
    invoice = note.invoice
    doc = credit_note_document(note)
    context = {
        **document_context(doc),
        "firm": firm_letterhead(),
        "note": note,
        "invoice": invoice,
        "account": invoice.account,
    }
    pdf = render_pdf(
        "invoicing/pdf/credit_note.html", context, pdf_variant=PDF_VARIANT, stylesheets=STYLESHEETS
    )
    return facturx_pdf(pdf, cii_xml(doc), doc)
