"""UN/CEFACT Cross Industry Invoice D16B at the EN 16931 profile (SPEC 3.2), also the XML inside
the Factur-X PDF. A pure function of a `Document`; element order follows the D16B schema that
the `factur-x` package checks."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from invoicing.einvoice.document import DocLine, Document
from invoicing.einvoice.parties import Party
from invoicing.einvoice.xmlutil import amount, number, serialize, sub

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
EN16931 = "urn:cen.eu:en16931:2017"


def _r(name: str) -> str:
    return f"{{{RAM}}}{name}"


def _date(parent: etree._Element, tag: str, day: dt.date, ns: str = UDT) -> None:
    holder = sub(parent, tag)
    sub(holder, f"{{{ns}}}DateTimeString", day.strftime("%Y%m%d"), format="102")


def _party(parent: etree._Element, tag: str, party: Party, *, vat: bool, ident: str = "") -> None:
    el = sub(parent, _r(tag))
    if ident:
        sub(el, _r("ID"), ident)
    sub(el, _r("Name"), party.name)
    if party.registration:
        sub(el, _r("Description"), party.registration)
    address = sub(el, _r("PostalTradeAddress"))
    if party.postal_code:
        sub(address, _r("PostcodeCode"), party.postal_code)
    for i, text in enumerate(party.address_lines[:3]):
        sub(address, _r(("LineOne", "LineTwo", "LineThree")[i]), text)
    if party.city:
        sub(address, _r("CityName"), party.city)
    sub(address, _r("CountryID"), party.country)
    if party.email:
        sub(sub(el, _r("URIUniversalCommunication")), _r("URIID"), party.email, schemeID="EM")
    if vat and party.vat_id:
        sub(sub(el, _r("SpecifiedTaxRegistration")), _r("ID"), party.vat_id, schemeID="VA")


def _tax(parent: etree._Element, category: str, rate: str | None) -> None:
    sub(parent, _r("TypeCode"), "VAT")
    sub(parent, _r("CategoryCode"), category)
    if rate is not None:
        sub(parent, _r("RateApplicablePercent"), rate)


def _line(parent: etree._Element, line: DocLine, currency: str) -> None:
    item = sub(parent, _r("IncludedSupplyChainTradeLineItem"))
    sub(sub(item, _r("AssociatedDocumentLineDocument")), _r("LineID"), line.line_id)
    sub(sub(item, _r("SpecifiedTradeProduct")), _r("Name"), line.description)
    price = sub(sub(item, _r("SpecifiedLineTradeAgreement")), _r("NetPriceProductTradePrice"))
    sub(price, _r("ChargeAmount"), number(line.unit_price))
    if line.base_quantity != 1:
        sub(price, _r("BasisQuantity"), number(line.base_quantity), unitCode=line.unit)
    delivery = sub(item, _r("SpecifiedLineTradeDelivery"))
    sub(delivery, _r("BilledQuantity"), number(line.quantity), unitCode=line.unit)
    settlement = sub(item, _r("SpecifiedLineTradeSettlement"))
    _tax(
        sub(settlement, _r("ApplicableTradeTax")),
        line.tax_category,
        None if line.tax_category == "O" else number(line.tax_rate),
    )
    if line.service_start and line.service_end:
        period = sub(settlement, _r("BillingSpecifiedPeriod"))
        _date(period, _r("StartDateTime"), line.service_start)
        _date(period, _r("EndDateTime"), line.service_end)
    for value, is_charge in ((line.allowance, False), (line.charge, True)):
        if value:
            change = sub(settlement, _r("SpecifiedTradeAllowanceCharge"))
            sub(sub(change, _r("ChargeIndicator")), f"{{{UDT}}}Indicator", str(is_charge).lower())
            sub(change, _r("ActualAmount"), amount(value))
            if not is_charge:
                sub(change, _r("ReasonCode"), "95")
            sub(change, _r("Reason"), "Surcharge" if is_charge else "Discount")
    summation = sub(settlement, _r("SpecifiedTradeSettlementLineMonetarySummation"))
    sub(summation, _r("LineTotalAmount"), amount(line.net))


def _settlement(tx: etree._Element, doc: Document) -> None:
    settlement = sub(tx, _r("ApplicableHeaderTradeSettlement"))
    if not doc.is_credit_note:
        sub(settlement, _r("PaymentReference"), doc.number)
    sub(settlement, _r("InvoiceCurrencyCode"), doc.currency)
    if doc.payee.iban and not doc.is_credit_note:
        means = sub(settlement, _r("SpecifiedTradeSettlementPaymentMeans"))
        sub(means, _r("TypeCode"), "58" if doc.currency == "EUR" else "30")
        if doc.payee.instructions:
            sub(means, _r("Information"), doc.payee.instructions)
        sub(sub(means, _r("PayeePartyCreditorFinancialAccount")), _r("IBANID"), doc.payee.iban)
        if doc.payee.bic:
            bank = sub(means, _r("PayeeSpecifiedCreditorFinancialInstitution"))
            sub(bank, _r("BICID"), doc.payee.bic)
    for group in doc.taxes:
        tax = sub(settlement, _r("ApplicableTradeTax"))
        sub(tax, _r("CalculatedAmount"), amount(group.tax))
        sub(tax, _r("TypeCode"), "VAT")
        if group.exemption_reason:
            sub(tax, _r("ExemptionReason"), group.exemption_reason)
        sub(tax, _r("BasisAmount"), amount(group.base))
        sub(tax, _r("CategoryCode"), group.category)
        if group.category != "O":
            sub(tax, _r("RateApplicablePercent"), number(group.rate))
    period = sub(settlement, _r("BillingSpecifiedPeriod"))
    _date(period, _r("StartDateTime"), doc.period_start)
    _date(period, _r("EndDateTime"), doc.period_end)
    terms = sub(settlement, _r("SpecifiedTradePaymentTerms"))
    sub(terms, _r("Description"), doc.terms)
    if doc.due_date is not None:
        _date(terms, _r("DueDateDateTime"), doc.due_date)
    totals = sub(settlement, _r("SpecifiedTradeSettlementHeaderMonetarySummation"))
    sub(totals, _r("LineTotalAmount"), amount(doc.net))
    sub(totals, _r("TaxBasisTotalAmount"), amount(doc.net))
    sub(totals, _r("TaxTotalAmount"), amount(doc.tax), currencyID=doc.currency)
    if doc.rounding:
        sub(totals, _r("RoundingAmount"), amount(doc.rounding))
    sub(totals, _r("GrandTotalAmount"), amount(doc.total))
    sub(totals, _r("DuePayableAmount"), amount(doc.payable))
    if doc.preceding_number:
        ref = sub(settlement, _r("InvoiceReferencedDocument"))
        sub(ref, _r("IssuerAssignedID"), doc.preceding_number)
        if doc.preceding_date:
            _date(ref, _r("FormattedIssueDateTime"), doc.preceding_date, ns=QDT)


def cii_xml(doc: Document) -> bytes:
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = sub(root, f"{{{RSM}}}ExchangedDocumentContext")
    sub(sub(context, _r("GuidelineSpecifiedDocumentContextParameter")), _r("ID"), EN16931)
    header = sub(root, f"{{{RSM}}}ExchangedDocument")
    sub(header, _r("ID"), doc.number)
    sub(header, _r("TypeCode"), doc.type_code)
    _date(header, _r("IssueDateTime"), doc.issue_date)
    for note in doc.notes:
        sub(sub(header, _r("IncludedNote")), _r("Content"), note)
    tx = sub(root, f"{{{RSM}}}SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(tx, line, doc.currency)
    agreement = sub(tx, _r("ApplicableHeaderTradeAgreement"))
    if doc.buyer_reference:
        sub(agreement, _r("BuyerReference"), doc.buyer_reference)
    # EN 16931 BR-O-02: an invoice outside the scope of VAT names no VAT identifiers; the
    # seller is then identified by BT-29 (BR-CO-26).
    vat = "O" not in doc.categories
    _party(
        agreement, "SellerTradeParty", doc.seller, vat=vat, ident="" if vat else doc.seller.vat_id
    )
    _party(agreement, "BuyerTradeParty", doc.buyer, vat=vat)
    if doc.po_number:
        order = sub(agreement, _r("BuyerOrderReferencedDocument"))
        sub(order, _r("IssuerAssignedID"), doc.po_number)
    delivery = sub(tx, _r("ApplicableHeaderTradeDelivery"))
    ship = sub(sub(delivery, _r("ShipToTradeParty")), _r("PostalTradeAddress"))
    sub(ship, _r("CountryID"), doc.buyer.country)
    _settlement(tx, doc)
    return serialize(root)
