"""The customer's document: an invoice or credit note as the PDF prints it and the e-invoices
send it (SPEC 3.1, 3.2). One builder, so the PDF and the XML never disagree.

`invoice_document(invoice)` and `credit_note_document(note)` read the frozen rows once;
everything after that (`ubl.py`, `cii.py`, the PDF template) is a pure function of the returned
`Document`. Amounts are Decimal; the document's totals are the invoice's own (`net`, `tax`,
`total`), recomputed from its lines by the one tax rule (SPEC 3 Tax).

Presentation rules (SPEC 3.1):
- a time line is quantity (hours, unit HUR) x unit price (the rate); where the rounded minutes are
  not a whole number of 1/10,000 hours the quantity is minutes (unit MIN) at the rate per 60.
- a block, milestone or added line is 1 unit (C62) at its amount; a negative added line is -1
  unit at the positive price (EN 16931 BR-27: a price is never negative).
- an adjusted line keeps its priced quantity x price and carries the change as a line discount
  (allowance) or surcharge (charge). Adjustment reasons are internal and never appear here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.template.defaultfilters import pluralize

from core.money import ZERO, round_money
from invoicing.einvoice.parties import Party, Payee, invoice_parties
from invoicing.models import CreditNote, Invoice, InvoiceLine

INVOICE = "380"  # UNTDID 1001 commercial invoice
CREDIT_NOTE = "381"  # UNTDID 1001 credit note
HOURS = "HUR"  # UN/ECE rec. 20
MINUTES = "MIN"
UNIT = "C62"
UNIT_NAMES = {HOURS: "h", MINUTES: "min", UNIT: "unit"}
HUNDRED = Decimal(100)
QTY_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class DocLine:
    line_id: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    base_quantity: Decimal
    net: Decimal  # what the line adds to the invoice (BT-131)
    tax_category: str
    tax_rate: Decimal
    exemption_reason: str = ""
    service_start: dt.date | None = None
    service_end: dt.date | None = None
    # An adjusted line: discount (allowance, positive) or surcharge (charge, positive).
    allowance: Decimal = ZERO
    charge: Decimal = ZERO

    @property
    def unit_name(self) -> str:
        return UNIT_NAMES[self.unit]

    @property
    def gross(self) -> Decimal:
        """Quantity x price, before a discount or surcharge."""
        return self.net + self.allowance - self.charge


@dataclass(frozen=True)
class TaxGroup:
    category: str
    rate: Decimal
    base: Decimal
    tax: Decimal
    exemption_reason: str = ""


@dataclass(frozen=True)
class Document:
    type_code: str
    number: str
    issue_date: dt.date
    due_date: dt.date | None
    currency: str
    seller: Party
    buyer: Party
    payee: Payee
    buyer_reference: str
    po_number: str
    period_start: dt.date
    period_end: dt.date
    lines: tuple[DocLine, ...]
    taxes: tuple[TaxGroup, ...]
    net: Decimal
    tax: Decimal
    total: Decimal
    rounding: Decimal = ZERO
    notes: tuple[str, ...] = ()
    terms: str = ""
    preceding_number: str = ""  # a credit note's invoice (BT-25, BT-26)
    preceding_date: dt.date | None = None

    @property
    def payable(self) -> Decimal:
        return self.total + self.rounding

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == CREDIT_NOTE

    @property
    def categories(self) -> set[str]:
        return {t.category for t in self.taxes}


def tax_groups(lines: tuple[DocLine, ...] | list[DocLine]) -> tuple[TaxGroup, ...]:
    """Per VAT category and rate: taxable amount, tax = round(base x rate / 100) (SPEC 3 Tax;
    only S carries a rate above 0, so this equals the per-rate rule), first exemption reason."""
    bases: dict[tuple[str, Decimal], Decimal] = defaultdict(lambda: ZERO)
    reasons: dict[tuple[str, Decimal], str] = {}
    for line in lines:
        key = (line.tax_category, line.tax_rate)
        bases[key] += line.net
        if line.exemption_reason:
            reasons.setdefault(key, line.exemption_reason)
    return tuple(
        TaxGroup(
            category=cat,
            rate=rate,
            base=round_money(base),
            tax=round_money(base * rate / HUNDRED),
            exemption_reason=reasons.get((cat, rate), ""),
        )
        for (cat, rate), base in sorted(bases.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    )


def _quantity(line: InvoiceLine) -> tuple[Decimal, str, Decimal, Decimal]:
    """(quantity, unit, unit price, base quantity) that multiply out to the priced amount."""
    if line.kind == InvoiceLine.Kind.TIME and line.minutes and line.rate is not None:
        hours = Decimal(line.minutes) / 60
        if hours == hours.quantize(QTY_PLACES):
            return hours.quantize(QTY_PLACES).normalize(), HOURS, line.rate, Decimal(1)
        return Decimal(line.minutes), MINUTES, line.rate, Decimal(60)
    priced = line.priced_amount if line.priced_amount is not None else line.amount
    if priced < 0:
        return Decimal(-1), UNIT, -priced, Decimal(1)
    return Decimal(1), UNIT, priced, Decimal(1)


def doc_line(line: InvoiceLine, line_id: str) -> DocLine:
    quantity, unit, price, base = _quantity(line)
    gross = round_money(quantity * price / base)
    difference = line.amount - gross
    category = line.vat_category
    return DocLine(
        line_id=line_id,
        description=line.description,
        quantity=quantity,
        unit=unit,
        unit_price=price,
        base_quantity=base,
        net=line.amount,
        tax_category=category,
        tax_rate=ZERO if category == "O" else line.tax_rate,
        exemption_reason=line.tax_exemption_reason,
        service_start=line.service_start,
        service_end=line.service_end,
        allowance=-difference if difference < 0 else ZERO,
        charge=difference if difference > 0 else ZERO,
    )


def _period(lines: list[InvoiceLine], invoice: Invoice) -> tuple[dt.date, dt.date]:
    """Service period: the billed month, widened to the lines' own service dates."""
    start = min([invoice.period, *(x.service_start for x in lines if x.service_start)])
    end = max([invoice.invoice_date, *(x.service_end for x in lines if x.service_end)])
    return start, end


def terms_text(invoice: Invoice) -> str:
    if invoice.terms:
        return invoice.terms
    days = (invoice.due_date - invoice.invoice_date).days
    return (
        f"Payable within {days} day{pluralize(days)} of the invoice date, "
        f"by {invoice.due_date.isoformat()}."
    )


def invoice_document(invoice: Invoice, rows: list[InvoiceLine] | None = None) -> Document:
    """`rows`: the invoice's lines in order (read from the database when not given)."""
    if rows is None:
        rows = list(InvoiceLine.objects.filter(invoice_id=invoice.pk).order_by("position", "id"))
    lines = tuple(doc_line(x, str(i)) for i, x in enumerate(rows, start=1))
    taxes = tax_groups(lines)
    net = round_money(sum((x.net for x in lines), ZERO))
    tax = sum((t.tax for t in taxes), ZERO)
    seller, buyer, payee, reference = invoice_parties(invoice)
    start, end = _period(rows, invoice)
    return Document(
        type_code=INVOICE,
        number=invoice.number or f"DRAFT-{invoice.pk}",
        issue_date=invoice.invoice_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        seller=seller,
        buyer=buyer,
        payee=payee,
        buyer_reference=reference,
        po_number=invoice.po_number,
        period_start=start,
        period_end=end,
        lines=lines,
        taxes=taxes,
        net=net,
        tax=tax,
        total=net + tax,
        notes=tuple(p for p in (invoice.notes.strip(),) if p),
        terms=terms_text(invoice),
    )


def credit_note_document(note: CreditNote) -> Document:
    """A credit note credits part or all of its invoice's total: each tax group of the invoice
    is credited in proportion (net = round(base x amount / total), tax by the one rule); the
    cent that proportional rounding can leave is the rounding amount (BT-114), so the amount
    due (BT-115) is exactly the credited amount."""
    invoice = note.invoice
    source = invoice_document(invoice)
    share = note.amount / source.total
    lines = []
    for i, group in enumerate(source.taxes, start=1):
        net = round_money(group.base * share)
        if net == 0:
            continue
        lines.append(
            DocLine(
                line_id=str(i),
                description=f"Credit on invoice {invoice.number}: {note.reason}"[:500],
                quantity=Decimal(1) if net > 0 else Decimal(-1),
                unit=UNIT,
                unit_price=abs(net),
                base_quantity=Decimal(1),
                net=net,
                tax_category=group.category,
                tax_rate=group.rate,
                exemption_reason=group.exemption_reason,
            )
        )
    taxes = tax_groups(lines)
    net_total = sum((x.net for x in lines), ZERO)
    tax = sum((t.tax for t in taxes), ZERO)
    return Document(
        type_code=CREDIT_NOTE,
        number=note.number,
        issue_date=note.date,
        due_date=None,
        currency=note.currency,
        seller=source.seller,
        buyer=source.buyer,
        payee=source.payee,
        buyer_reference=source.buyer_reference,
        po_number=invoice.po_number,
        period_start=source.period_start,
        period_end=source.period_end,
        lines=tuple(lines),
        taxes=taxes,
        net=net_total,
        tax=tax,
        total=net_total + tax,
        rounding=note.amount - (net_total + tax),
        terms=f"Deducted from the amount open on invoice {invoice.number}.",
        preceding_number=invoice.number or "",
        preceding_date=invoice.invoice_date,
    )
