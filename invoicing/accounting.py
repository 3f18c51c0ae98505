"""Accounting exports (SPEC 5 `export_accounting`): the approved invoices and credit notes dated in
a range as a QuickBooks Online invoice import CSV, a Xero sales-invoice CSV, or a DATEV EXTF
Buchungsstapel, so finance hands a month to the books without retyping.

Every file is built from the same customer documents as the PDF and the e-invoices
(`invoicing.einvoice.document`), so its amounts are the invoices' own. Sign convention: a credit
note is its own document, numbered CN-..., with negative quantities and amounts (QuickBooks,
Xero: a negative document imports as a credit) or booked on the Haben side (DATEV).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from core.errors import BillingError
from core.money import ZERO, round_money
from invoicing.einvoice.document import DocLine, Document, credit_note_document, invoice_document
from invoicing.models import CreditNote, Invoice

FORMATS = ("qbo", "xero", "datev")
XERO_MAX_INVOICES = 500  # Xero imports at most 500 invoices per file

QBO_COLUMNS = [
    "Invoice number",
    "Customer",
    "Invoice date",
    "Due date",
    "Terms",
    "Memo",
    "Item(Product/Service)",
    "Item Description",
    "Item Quantity",
    "Item Rate",
    "Item Amount",
    "Item tax code",
    "Service Date",
]
XERO_COLUMNS = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
]
DATEV_COLUMNS = [
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
]


@dataclass(frozen=True)
class AccountingFile:
    content: bytes
    filename: str
    content_type: str
    documents: int
    skipped: int = 0  # DATEV: documents in another currency than the ledger's


def documents_in_range(start: dt.date, end: dt.date) -> list[tuple[Document, int]]:
    """(document, sign) of every approved invoice (+1) and credit note (-1) dated in the range,
    by date then number."""
    invoices = Invoice.objects.filter(
        status__in=Invoice.FINAL_STATUSES, invoice_date__gte=start, invoice_date__lte=end
    ).select_related("account")
    notes = CreditNote.objects.filter(date__gte=start, date__lte=end).select_related(
        "invoice__account"
    )
    docs = [(invoice_document(i), 1) for i in invoices]
    docs += [(credit_note_document(n), -1) for n in notes]
    return sorted(docs, key=lambda d: (d[0].issue_date, d[0].number))


def line_taxes(doc: Document) -> list[Decimal]:
    """Each line's share of its VAT group's tax; the group's last line takes the remainder, so the
    lines add up to the document's tax exactly."""
    out = [ZERO] * len(doc.lines)
    for group in doc.taxes:
        members = [
            i
            for i, x in enumerate(doc.lines)
            if (x.tax_category, x.tax_rate) == (group.category, group.rate)
        ]
        left = group.tax
        for n, i in enumerate(members):
            share = (
                left
                if n == len(members) - 1
                else round_money(group.tax * _ratio(doc.lines[i], group.base))
            )
            out[i] = share
            left -= share
    return out


def _ratio(line: DocLine, base: Decimal) -> Decimal:
    return line.net / base if base else Decimal(0)


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


def _simple(line: DocLine) -> tuple[Decimal, Decimal]:
    """(quantity, unit price) that multiply out to the line's net: an adjusted or per-minute
    line becomes 1 x its net, since neither import has a line discount amount column."""
    if line.allowance or line.charge or line.base_quantity != 1:
        return Decimal(1), line.net
    return line.quantity, line.unit_price


def _csv(header: list[str], rows: Iterator[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _qbo_rows(docs: list[tuple[Document, int]]) -> Iterator[list[str]]:
    for doc, sign in docs:
        terms = f"Net {(doc.due_date - doc.issue_date).days}" if doc.due_date else ""
        memo = (
            f"PO {doc.po_number}"
            if doc.po_number
            else (doc.preceding_number and f"Credit on {doc.preceding_number}")
        )
        for line in doc.lines:
            quantity, price = _simple(line)
            yield [
                doc.number,
                doc.buyer.name,
                doc.issue_date.isoformat(),
                (doc.due_date or doc.issue_date).isoformat(),
                terms,
                memo or "",
                settings.BILLING_QBO_ITEM,
                line.description,
                _number(quantity * sign),
                f"{price:.2f}",
                f"{line.net * sign:.2f}",
                "TAX" if line.tax_rate > 0 else "NON",
                (line.service_end or doc.issue_date).isoformat(),
            ]


def _xero_tax_type(line: DocLine) -> str:
    names = dict(x.split("=", 1) for x in settings.BILLING_XERO_TAX_TYPES.split(",") if "=" in x)
    rate = f"{line.tax_rate.normalize():f}"
    return names.get(f"{line.tax_category}{rate}") or names.get(line.tax_category) or f"{rate}%"


def _xero_rows(docs: list[tuple[Document, int]]) -> Iterator[list[str]]:
    for doc, sign in docs:
        buyer = doc.buyer
        address = [*buyer.address_lines[:4], "", "", "", ""][:4]
        for line, tax in zip(doc.lines, line_taxes(doc), strict=True):
            quantity, price = _simple(line)
            yield [
                buyer.name,
                buyer.email,
                *address,
                buyer.city,
                "",
                buyer.postal_code,
                buyer.country,
                doc.number,
                doc.po_number or doc.preceding_number,
                doc.issue_date.isoformat(),
                (doc.due_date or doc.issue_date).isoformat(),
                "",
                line.description,
                _number(quantity * sign),
                f"{price:.2f}",
                "",
                settings.BILLING_XERO_SALES_ACCOUNT,
                _xero_tax_type(line),
                f"{tax * sign:.2f}",
                "",
                "",
                "",
                "",
                doc.currency,
            ]


def xero_export(docs: list[tuple[Document, int]]) -> tuple[bytes, bool]:
    """(content, zipped): one CSV, or a zip of CSVs of at most 500 documents each."""
    if len(docs) <= XERO_MAX_INVOICES:
        return _csv(XERO_COLUMNS, _xero_rows(docs)), False
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, start in enumerate(range(0, len(docs), XERO_MAX_INVOICES), start=1):
            chunk = docs[start : start + XERO_MAX_INVOICES]
            archive.writestr(
                f"xero-sales-invoices-{n:03d}.csv", _csv(XERO_COLUMNS, _xero_rows(chunk))
            )
    return buf.getvalue(), True


def _datev_amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _datev_text(value: str) -> str:
    return '"' + " ".join(value.split()).replace('"', '""') + '"'


def datev_accounts() -> dict[str, str]:
    return dict(
        x.split("=", 1) for x in settings.BILLING_DATEV_REVENUE_ACCOUNTS.split(",") if "=" in x
    )


def _datev_fiscal_start(start: dt.date, end: dt.date) -> dt.date:
    """The first day of the fiscal year holding `start`; the range may not leave that year."""
    fiscal = dt.date(
        start.year,
        int(settings.BILLING_DATEV_FISCAL_YEAR_START[:2]),
        int(settings.BILLING_DATEV_FISCAL_YEAR_START[2:]),
    )
    if fiscal > start:
        fiscal = fiscal.replace(year=start.year - 1)
    if end >= fiscal.replace(year=fiscal.year + 1):
        raise BillingError("A DATEV Buchungsstapel covers one fiscal year: split the range.")
    return fiscal


def _datev_header(fiscal: dt.date, start: dt.date, end: dt.date, currency: str) -> list[str]:
    now = timezone.now().strftime("%Y%m%d%H%M%S%f")[:17]
    return [
        '"EXTF"',
        "700",
        "21",
        '"Buchungsstapel"',
        "13",
        now,
        "",
        '"RE"',
        '""',
        '""',
        settings.BILLING_DATEV_CONSULTANT,
        settings.BILLING_DATEV_CLIENT,
        fiscal.strftime("%Y%m%d"),
        str(settings.BILLING_DATEV_ACCOUNT_LENGTH),
        start.strftime("%Y%m%d"),
        end.strftime("%Y%m%d"),
        '"Billable invoices"',
        '""',
        "1",
        "0",
        "0",
        f'"{currency}"',
        "",
        '""',
        "",
        "",
        '""',
        "",
        "",
        '""',
        '""',
    ]


def _datev_bookings(doc: Document, sign: int, currency: str, accounts: dict[str, str]) -> list[str]:
    """One booking line per VAT group of `doc`: the gross amount, Soll for an invoice's positive
    amount, Haben for a credit note's."""
    lines = []
    for group in doc.taxes:
        rate = f"{group.rate.normalize():f}"
        account = accounts.get(f"{group.category}{rate}") or accounts.get(group.category)
        if not account:
            raise BillingError(
                f"BILLING_DATEV_REVENUE_ACCOUNTS has no account for VAT category "
                f"{group.category} at {rate}% ({doc.number})."
            )
        gross = group.base + group.tax
        side = "S" if (gross >= 0) == (sign > 0) else "H"
        lines.append(
            ";".join(
                [
                    _datev_amount(abs(gross)),
                    f'"{side}"',
                    f'"{currency}"',
                    "",
                    "",
                    "",
                    settings.BILLING_DATEV_DEBTOR_ACCOUNT,
                    account,
                    '""',
                    doc.issue_date.strftime("%d%m"),
                    _datev_text(doc.number),
                    _datev_text(doc.preceding_number),
                    "",
                    _datev_text(doc.buyer.name[:60]),
                ]
            )
        )
    return lines


def datev_export(
    docs: list[tuple[Document, int]], start: dt.date, end: dt.date
) -> tuple[bytes, int, int]:
    """EXTF Buchungsstapel (format 700, category 21, version 13): one booking per document and VAT
    group, the gross amount on the debtor account against the revenue account of the group;
    invoices on Soll, credit notes on Haben. Returns (content, documents, skipped)."""
    fiscal = _datev_fiscal_start(start, end)
    currency = settings.BILLING_DATEV_CURRENCY
    accounts = datev_accounts()
    lines = [";".join(_datev_header(fiscal, start, end, currency)), ";".join(DATEV_COLUMNS)]
    used = skipped = 0
    for doc, sign in docs:
        if doc.currency != currency:
            skipped += 1
            continue
        used += 1
        lines.extend(_datev_bookings(doc, sign, currency, accounts))
    # DATEV reads Windows-1252 (ANSI) files with CR/LF line ends.
    return ("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace"), used, skipped


def accounting_export(*, fmt: str, start: dt.date, end: dt.date) -> AccountingFile:
    if fmt not in FORMATS:
        raise BillingError(f"Unknown accounting format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if end < start:
        raise BillingError("The range ends before it starts.")
    docs = documents_in_range(start, end)
    stem = f"{fmt}-{start.isoformat()}-{end.isoformat()}"
    if fmt == "qbo":
        return AccountingFile(
            _csv(QBO_COLUMNS, _qbo_rows(docs)), f"{stem}.csv", "text/csv", len(docs)
        )
    if fmt == "xero":
        content, zipped = xero_export(docs)
        if zipped:
            return AccountingFile(content, f"{stem}.zip", "application/zip", len(docs))
        return AccountingFile(content, f"{stem}.csv", "text/csv", len(docs))
    content, used, skipped = datev_export(docs, start, end)
    return AccountingFile(content, f"EXTF_Buchungsstapel_{stem}.csv", "text/csv", used, skipped)
