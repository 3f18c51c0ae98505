"""Factur-X at the EN 16931 profile (SPEC 3.2): a PDF/A-3 (WeasyPrint's pdf/a-3b variant) with
the CII XML embedded as `factur-x.xml` and the Factur-X XMP metadata, by the `factur-x`
package. The XML is checked against the package's Factur-X EN 16931 schema (XSD), parsed once per
process (issue 16): the package's own check parses the XSD files again on every call."""

from __future__ import annotations

import functools
import importlib.resources
import logging
import threading

from facturx import generate_from_binary
from facturx.facturx import FACTURX_LEVEL2xsd
from lxml import etree

from core.errors import BillingError
from invoicing.einvoice.document import Document

PDF_VARIANT = "pdf/a-3b"
ATTACHMENT = "factur-x.xml"
LEVEL = "en16931"
_SCHEMA_LOCK = threading.Lock()  # one validation at a time on the shared schema object

# The package logs every step at INFO; only its warnings matter here.
logging.getLogger("factur-x").setLevel(logging.WARNING)


@functools.cache
def schema() -> etree.XMLSchema:
    """The factur-x package's XSD of the EN 16931 level (the one its own check uses)."""
    path = importlib.resources.files("facturx").joinpath(
        f"xsd_and_schematron/{FACTURX_LEVEL2xsd[LEVEL]}"
    )
    return etree.XMLSchema(file=str(path))


def check_xsd(cii: bytes, doc: Document) -> None:
    """Refuse a CII XML that is not valid against the Factur-X EN 16931 schema."""
    try:
        root = etree.fromstring(cii)
    except etree.XMLSyntaxError as exc:
        raise BillingError(f"The Factur-X XML of {doc.number} is not well-formed: {exc}") from exc
    with _SCHEMA_LOCK:
        valid = schema().validate(root)
        errors = str(schema().error_log.last_error) if not valid else ""
    if not valid:
        raise BillingError(
            f"The Factur-X PDF of {doc.number} could not be built: the XML is not valid "
            f"against the Factur-X {LEVEL} schema: {errors}"
        )


def facturx_pdf(pdf: bytes, cii: bytes, doc: Document) -> bytes:
    """Embed `cii` into `pdf` (rendered with PDF_VARIANT), after checking it against the XSD."""
    check_xsd(cii, doc)
    try:
        return generate_from_binary(
            pdf,
            cii,
            flavor="factur-x",
            level=LEVEL,
            check_xsd=False,  # checked above, against the schema parsed once
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
