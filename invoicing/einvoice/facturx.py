"""Factur-X at the EN 16931 profile (SPEC 3.2): a PDF/A-3 (WeasyPrint's pdf/a-3b variant) with
the CII XML embedded as `factur-x.xml` and the Factur-X XMP metadata, by the `factur-x`
package, which also checks the XML against the Factur-X EN 16931 schema."""

from __future__ import annotations

import logging

from facturx import generate_from_binary

from core.errors import BillingError
from invoicing.einvoice.document import Document

PDF_VARIANT = "pdf/a-3b"
ATTACHMENT = "factur-x.xml"

# The package logs every step at INFO; only its warnings matter here.
logging.getLogger("factur-x").setLevel(logging.WARNING)


def facturx_pdf(pdf: bytes, cii: bytes, doc: Document) -> bytes:
    """Embed `cii` into `pdf` (rendered with PDF_VARIANT)."""
    try:
        return generate_from_binary(
            pdf,
            cii,
            flavor="factur-x",
            level="en16931",
            check_xsd=True,
            pdf_metadata={
                "author": doc.seller.name,
                "keywords": "Factur-X, Invoice",
                "title": f"{doc.seller.name}: {'Credit note' if doc.is_credit_note else 'Invoice'} {doc.number}",
                "subject": f"{'Credit note' if doc.is_credit_note else 'Invoice'} {doc.number} "
                f"dated {doc.issue_date.isoformat()} issued by {doc.seller.name}",
            },
            lang="en",
        )
    except Exception as exc:  # the package raises bare Exceptions for an XML off its schema
        raise BillingError(f"The Factur-X PDF of {doc.number} could not be built: {exc}") from exc
