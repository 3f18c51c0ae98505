"""UBL 2.1 Invoice and CreditNote in the Peppol BIS Billing 3.0 profile (SPEC 3.2). A pure
function of a `Document`; element order follows the UBL 2.1 schema."""

from __future__ import annotations

from lxml import etree

from invoicing.einvoice.document import DocLine, Document
from invoicing.einvoice.parties import Party
from invoicing.einvoice.xmlutil import amount, number, serialize, sub

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


def _a(name: str) -> str:
    return f"{{{CAC}}}{name}"


def _b(name: str) -> str:
    return f"{{{CBC}}}{name}"


def _money(parent: etree._Element, tag: str, value, currency: str) -> None:
    sub(parent, _b(tag), amount(value), currencyID=currency)


def _party(parent: etree._Element, tag: str, party: Party, *, vat: bool, ident: str = "") -> None:
    el = sub(sub(parent, _a(tag)), _a("Party"))
    if party.email:
        sub(el, _b("EndpointID"), party.email, schemeID="EM")
    if ident:
        sub(sub(el, _a("PartyIdentification")), _b("ID"), ident)
    sub(sub(el, _a("PartyName")), _b("Name"), party.name)
    address = sub(el, _a("PostalAddress"))
    if party.address_lines:
        sub(address, _b("StreetName"), party.address_lines[0])
    if len(party.address_lines) > 1:
        sub(address, _b("AdditionalStreetName"), party.address_lines[1])
    if party.city:
        sub(address, _b("CityName"), party.city)
    if party.postal_code:
        sub(address, _b("PostalZone"), party.postal_code)
    if len(party.address_lines) > 2:
        sub(sub(address, _a("AddressLine")), _b("Line"), ", ".join(party.address_lines[2:]))
    sub(sub(address, _a("Country")), _b("IdentificationCode"), party.country)
    if vat and party.vat_id:
        scheme = sub(el, _a("PartyTaxScheme"))
        sub(scheme, _b("CompanyID"), party.vat_id)
        sub(sub(scheme, _a("TaxScheme")), _b("ID"), "VAT")
    legal = sub(el, _a("PartyLegalEntity"))
    sub(legal, _b("RegistrationName"), party.name)
    if party.registration:
        sub(legal, _b("CompanyLegalForm"), party.registration)


def _category(parent: etree._Element, tag: str, category: str, rate, reason: str = "") -> None:
    el = sub(parent, _a(tag))
    sub(el, _b("ID"), category)
    if category != "O":
        sub(el, _b("Percent"), number(rate))
    if reason:
        sub(el, _b("TaxExemptionReason"), reason)
    sub(sub(el, _a("TaxScheme")), _b("ID"), "VAT")


def _line(parent: etree._Element, line: DocLine, doc: Document) -> None:
    credit = doc.is_credit_note
    el = sub(parent, _a("CreditNoteLine" if credit else "InvoiceLine"))
    sub(el, _b("ID"), line.line_id)
    quantity = "CreditedQuantity" if credit else "InvoicedQuantity"
    sub(el, _b(quantity), number(line.quantity), unitCode=line.unit)
    _money(el, "LineExtensionAmount", line.net, doc.currency)
    if line.service_start and line.service_end:
        period = sub(el, _a("InvoicePeriod"))
        sub(period, _b("StartDate"), line.service_start.isoformat())
        sub(period, _b("EndDate"), line.service_end.isoformat())
    for value, is_charge in ((line.allowance, False), (line.charge, True)):
        if value:
            change = sub(el, _a("AllowanceCharge"))
            sub(change, _b("ChargeIndicator"), str(is_charge).lower())
            if not is_charge:
                sub(change, _b("AllowanceChargeReasonCode"), "95")
            sub(change, _b("AllowanceChargeReason"), "Surcharge" if is_charge else "Discount")
            _money(change, "Amount", value, doc.currency)
    item = sub(el, _a("Item"))
    sub(item, _b("Name"), line.description)
    _category(item, "ClassifiedTaxCategory", line.tax_category, line.tax_rate)
    price = sub(el, _a("Price"))
    sub(price, _b("PriceAmount"), number(line.unit_price), currencyID=doc.currency)
    if line.base_quantity != 1:
        sub(price, _b("BaseQuantity"), number(line.base_quantity), unitCode=line.unit)


def _totals(root: etree._Element, doc: Document) -> None:
    tax_total = sub(root, _a("TaxTotal"))
    _money(tax_total, "TaxAmount", doc.tax, doc.currency)
    for group in doc.taxes:
        subtotal = sub(tax_total, _a("TaxSubtotal"))
        _money(subtotal, "TaxableAmount", group.base, doc.currency)
        _money(subtotal, "TaxAmount", group.tax, doc.currency)
        _category(subtotal, "TaxCategory", group.category, group.rate, group.exemption_reason)
    totals = sub(root, _a("LegalMonetaryTotal"))
    _money(totals, "LineExtensionAmount", doc.net, doc.currency)
    _money(totals, "TaxExclusiveAmount", doc.net, doc.currency)
    _money(totals, "TaxInclusiveAmount", doc.total, doc.currency)
    if doc.rounding:
        _money(totals, "PayableRoundingAmount", doc.rounding, doc.currency)
    _money(totals, "PayableAmount", doc.payable, doc.currency)


def ubl_xml(doc: Document) -> bytes:
    credit = doc.is_credit_note
    root = etree.Element(
        f"{{{CREDIT_NOTE_NS if credit else INVOICE_NS}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: CREDIT_NOTE_NS if credit else INVOICE_NS, "cac": CAC, "cbc": CBC},
    )
    sub(root, _b("CustomizationID"), CUSTOMIZATION)
    sub(root, _b("ProfileID"), PROFILE)
    sub(root, _b("ID"), doc.number)
    sub(root, _b("IssueDate"), doc.issue_date.isoformat())
    if doc.due_date is not None and not credit:
        sub(root, _b("DueDate"), doc.due_date.isoformat())
    sub(root, _b("CreditNoteTypeCode" if credit else "InvoiceTypeCode"), doc.type_code)
    for note in doc.notes:
        sub(root, _b("Note"), note)
    sub(root, _b("DocumentCurrencyCode"), doc.currency)
    if doc.buyer_reference:
        sub(root, _b("BuyerReference"), doc.buyer_reference)
    period = sub(root, _a("InvoicePeriod"))
    sub(period, _b("StartDate"), doc.period_start.isoformat())
    sub(period, _b("EndDate"), doc.period_end.isoformat())
    if doc.po_number:
        sub(sub(root, _a("OrderReference")), _b("ID"), doc.po_number)
    if doc.preceding_number:
        ref = sub(sub(root, _a("BillingReference")), _a("InvoiceDocumentReference"))
        sub(ref, _b("ID"), doc.preceding_number)
        if doc.preceding_date:
            sub(ref, _b("IssueDate"), doc.preceding_date.isoformat())
    vat = "O" not in doc.categories  # BR-O-02, as in cii.py
    _party(
        root,
        "AccountingSupplierParty",
        doc.seller,
        vat=vat,
        ident="" if vat else doc.seller.vat_id,
    )
    _party(root, "AccountingCustomerParty", doc.buyer, vat=vat)
    delivery = sub(sub(sub(root, _a("Delivery")), _a("DeliveryLocation")), _a("Address"))
    sub(sub(delivery, _a("Country")), _b("IdentificationCode"), doc.buyer.country)
    if doc.payee.iban and not credit:
        means = sub(root, _a("PaymentMeans"))
        sub(means, _b("PaymentMeansCode"), "58" if doc.currency == "EUR" else "30")
        sub(means, _b("PaymentID"), doc.number)
        account = sub(means, _a("PayeeFinancialAccount"))
        sub(account, _b("ID"), doc.payee.iban)
        if doc.payee.bank:
            sub(account, _b("Name"), doc.payee.bank)
        if doc.payee.bic:
            sub(sub(account, _a("FinancialInstitutionBranch")), _b("ID"), doc.payee.bic)
    sub(sub(root, _a("PaymentTerms")), _b("Note"), doc.terms)
    _totals(root, doc)
    for line in doc.lines:
        _line(root, line, doc)
    return serialize(root)
