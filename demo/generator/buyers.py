"""The buyer's CRM columns of a demo customer (SPEC 1.1: Billing Address, City, Postal Code,
Country, Buyer VAT ID, Buyer Reference) and the customer-facing Agreement Name.

Drawn from their own random stream keyed by the account, so adding them changed none of the
other columns: the same seed still gives the same agreements, entries and payments. USD
customers are in the US (no VAT ID); EUR customers are in EU countries with a VAT ID of the
country's shape, a German one with a Leitweg-ID as Buyer Reference."""

from __future__ import annotations

import random

from demo.generator.plan import Account

US = [
    ("San Francisco", "941"),
    ("Austin", "787"),
    ("Chicago", "606"),
    ("Boston", "021"),
    ("Seattle", "981"),
    ("Denver", "802"),
]
STREETS = ["Market St", "Main Street", "Harbor Blvd", "Elm Avenue", "Congress Ave", "Pine St"]
EU = [
    ("DE", "Berlin", "Friedrichstrasse", "DE{d9}", "{d5}"),
    ("FR", "Lyon", "Rue de la Republique", "FR{d2}{d9}", "{d5}"),
    ("NL", "Utrecht", "Oudegracht", "NL{d9}B01", "{d4} AB"),
    ("AT", "Wien", "Mariahilfer Strasse", "ATU{d8}", "1{d3}"),
    ("BE", "Gent", "Veldstraat", "BE0{d9}", "9{d3}"),
]
PROJECTS = [
    "Managed services",
    "Website relaunch",
    "Cloud migration",
    "ERP rollout",
    "Security review",
    "Data platform",
    "Support retainer",
    "Mobile app",
    "Network upgrade",
    "Analytics dashboard",
]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def buyer_columns(account: Account, seed: int) -> list[str]:
    """[Billing Address, Billing City, Billing Postal Code, Billing Country, Buyer VAT ID,
    Buyer Reference] of one customer; the same for every row of the account."""
    rng = random.Random(f"buyer:{seed}:{account.external_id}")
    number = rng.randrange(1, 400)
    if account.currency != "EUR":
        city, zip3 = rng.choice(US)
        street = f"{number} {rng.choice(STREETS)}; Suite {rng.randrange(100, 900)}"
        reference = f"AP-{rng.randrange(1000, 9999)}" if rng.random() < 0.5 else ""
        return [street, city, f"{zip3}{_digits(rng, 2)}", "US", "", reference]
    country, city, street, vat, postal = rng.choice(EU)
    fill = {f"d{n}": _digits(rng, n) for n in (2, 3, 4, 5, 8, 9)}
    if country == "DE":
        reference = f"04011000-{_digits(rng, 5)}-{_digits(rng, 2)}"  # a Leitweg-ID
    else:
        reference = f"PO-BOX {rng.randrange(100, 999)}" if rng.random() < 0.5 else ""
    return [
        f"{street} {number}",
        city,
        postal.format(**fill),
        country,
        vat.format(**fill),
        reference,
    ]


def agreement_name(index: int, project_code: str, seed: int) -> str:
    """The customer-facing name printed on invoice lines (SPEC 1.1 Agreement Name)."""
    rng = random.Random(f"agreement-name:{seed}:{index}")
    return f"{rng.choice(PROJECTS)} ({project_code})"
