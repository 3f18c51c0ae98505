"""Seller and buyer of an invoice (SPEC 3.1, 3.2): the seller from the BILLING_FIRM_* settings, the
buyer from the account's CRM columns (SPEC 1.1).

Approval stores both on the invoice (`Invoice.parties`), so the PDF and every e-invoice of an
approved invoice say what was true when it was approved, whatever changes later; drafts read
them live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

from agreements.models import Account


@dataclass(frozen=True)
class Party:
    name: str
    address_lines: tuple[str, ...] = ()
    city: str = ""
    postal_code: str = ""
    country: str = ""
    vat_id: str = ""
    registration: str = ""
    email: str = ""
    account_id: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Party:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["address_lines"] = tuple(values.get("address_lines", ()))
        return cls(**values)


@dataclass(frozen=True)
class Payee:
    iban: str = ""
    bic: str = ""
    bank: str = ""
    instructions: str = ""


def _lines(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").splitlines() if x.strip())


def seller() -> Party:
    return Party(
        name=settings.BILLING_FIRM_NAME.strip(),
        address_lines=_lines(settings.BILLING_FIRM_ADDRESS),
        city=settings.BILLING_FIRM_CITY.strip(),
        postal_code=settings.BILLING_FIRM_POSTAL_CODE.strip(),
        country=settings.BILLING_FIRM_COUNTRY.strip().upper(),
        vat_id=settings.BILLING_FIRM_VAT_ID.strip(),
        registration=settings.BILLING_FIRM_REGISTRATION.strip(),
        email=settings.BILLING_FIRM_EMAIL.strip(),
    )


def payee() -> Payee:
    return Payee(
        iban="".join(settings.BILLING_FIRM_IBAN.split()).upper(),
        bic=settings.BILLING_FIRM_BIC.strip().upper(),
        bank=settings.BILLING_FIRM_BANK.strip(),
        instructions=settings.BILLING_PAYMENT_INSTRUCTIONS.strip(),
    )


def buyer(account: Account, billing_email: str = "") -> Party:
    return Party(
        name=account.name,
        address_lines=_lines(account.billing_address),
        city=account.billing_city,
        postal_code=account.billing_postal_code,
        # SPEC 1.1: a blank Billing Country is the firm's country.
        country=(account.billing_country or settings.BILLING_FIRM_COUNTRY).strip().upper(),
        vat_id=account.buyer_vat_id,
        email=billing_email or account.billing_email,
        account_id=account.external_id,
    )


def snapshot(*, account: Account, billing_email: str, buyer_reference: str) -> dict[str, Any]:
    """What `Invoice.parties` stores (JSON)."""
    return {
        "seller": asdict(seller()),
        "buyer": asdict(buyer(account, billing_email)),
        "payee": asdict(payee()),
        "buyer_reference": buyer_reference,
    }


def invoice_parties(invoice: Any) -> tuple[Party, Party, Payee, str]:
    """(seller, buyer, payee, buyer reference) of an invoice: as stored at approval, else live."""
    data = invoice.parties or snapshot(
        account=invoice.account,
        billing_email=invoice.billing_email,
        buyer_reference=invoice.account.buyer_reference,
    )
    return (
        Party.from_dict(data["seller"]),
        Party.from_dict(data["buyer"]),
        Payee(**data.get("payee", {})),
        data.get("buyer_reference", ""),
    )
