"""EN 16931 e-invoices of approved invoices and credit notes (SPEC 3.2): UBL 2.1 (Peppol BIS
Billing 3.0), UN/CEFACT CII D16B and Factur-X (the final PDF as PDF/A-3 with the CII inside).

Every XML is a pure function of the frozen document (`document.py`): the same approved invoice
gives the same bytes whenever it is exported. `checks.py` is what approval asks before it
freezes an invoice whose e-invoice could not be valid.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pypdf import PdfReader

from core.errors import BillingError
from invoicing.einvoice.cii import cii_xml
from invoicing.einvoice.document import Document, credit_note_document, invoice_document
from invoicing.einvoice.facturx import ATTACHMENT
from invoicing.einvoice.ubl import ubl_xml
from invoicing.models import CreditNote, Invoice

FORMATS = ("ubl", "cii", "facturx")


RETRY_AFTER_SECONDS = 5


class EInvoiceRendering(BillingError):
    """The Factur-X of an approved invoice is its final PDF, which a worker is still rendering
    (`Invoice.pdf_status == "rendering"`). UBL and CII do not need it and are built at once."""

    def __init__(self, invoice: Invoice) -> None:
        super().__init__(
            f"The Factur-X PDF of {invoice.number} is being rendered; try again in a moment "
            "(the UBL and CII files are ready)."
        )


@dataclass(frozen=True)
class EInvoiceFile:
    content: bytes
    filename: str
    content_type: str


def document_of(subject: Invoice | CreditNote) -> Document:
    if isinstance(subject, CreditNote):
        return credit_note_document(subject)
    return invoice_document(subject)


def einvoice_file(subject: Invoice | CreditNote, fmt: str) -> EInvoiceFile:
    """The e-invoice of an approved invoice or a credit note in `fmt` (ubl, cii, facturx)."""
    if fmt not in FORMATS:
        raise BillingError(f"Unknown e-invoice format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if isinstance(subject, Invoice) and not subject.is_final:
        raise BillingError(
            f"Invoice {subject} is not approved; only approved invoices have e-invoices."
        )
    number = subject.number
    if fmt == "facturx":
        return EInvoiceFile(_facturx(subject), f"{number}.pdf", "application/pdf")
    doc = document_of(subject)
    if fmt == "ubl":
        return EInvoiceFile(ubl_xml(doc), f"{number}.ubl.xml", "application/xml")
    return EInvoiceFile(cii_xml(doc), f"{number}.cii.xml", "application/xml")


def _facturx(subject: Invoice | CreditNote) -> bytes:
    """The stored final PDF (a Factur-X since approval). An invoice whose final PDF is still
    rendering raises EInvoiceRendering (never a second, different copy); a stored PDF from
    before Factur-X, or a credit note without one, is rendered anew."""
    from invoicing.pdf import credit_note_pdf, invoice_pdf

    if isinstance(subject, Invoice) and not subject.pdf:
        raise EInvoiceRendering(subject)
    if subject.pdf:
        with subject.pdf.open("rb") as fh:
            data = fh.read()
        if ATTACHMENT in PdfReader(io.BytesIO(data)).attachments:
            return data
    if isinstance(subject, CreditNote):
        return credit_note_pdf(subject)
    return invoice_pdf(subject)
