"""Pure allocation rules (SPEC 4): which invoices a payment names, how much goes where, and
masking card numbers out of references. No ORM here; services.py feeds it rows and writes results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.money import ZERO

INVOICE_NUMBER_RE = re.compile(r"INV-\d{4}-\d{5}", re.IGNORECASE)
# A run of 13-19 digits, optionally separated by single spaces or dashes, not glued to other
# digits. The length and the Luhn check are verified on the digits afterwards.
CARD_CANDIDATE_RE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
CARD_MASK = "**** **** **** "


def referenced_numbers(reference: str) -> list[str]:
    """Invoice numbers in a free-text reference, upper-cased, in order of appearance, once each."""
    seen: list[str] = []
    for match in INVOICE_NUMBER_RE.finditer(reference or ""):
        number = match.group(0).upper()
        if number not in seen:
            seen.append(number)
    return seen


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_segment(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return CARD_MASK + digits[-4:]
        return match.group(0)

    return CARD_CANDIDATE_RE.sub(replace, text)


def mask_card_numbers(reference: str) -> str:
    """Replace card-like numbers (13-19 digits passing Luhn) by `**** **** **** 1234`.

    Invoice numbers are left alone: the text between them is masked piece by piece, so an
    invoice number glued to a digit run can never be half-eaten by the mask.
    """
    if not reference:
        return reference
    pieces: list[str] = []
    last = 0
    for match in INVOICE_NUMBER_RE.finditer(reference):
        pieces.append(_mask_segment(reference[last : match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_mask_segment(reference[last:]))
    return "".join(pieces)


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice a payment may pay, with its open amount right now (after locking)."""

    id: int
    number: str
    open_amount: Decimal


@dataclass(frozen=True)
class Share:
    invoice_id: int
    amount: Decimal


def plan_allocation(
    amount: Decimal, referenced: Sequence[OpenInvoice], others: Iterable[OpenInvoice]
) -> tuple[list[Share], Decimal]:
    """Split `amount`: the referenced invoices first (in the order given), then the others (already
    ordered oldest due date first, then number), each up to its open amount. Returns the shares
    and the unapplied rest. An invoice appears at most once; non-positive open amounts get nothing.
    """
    remaining = amount
    shares: list[Share] = []
    used: set[int] = set()
    for invoice in [*referenced, *others]:
        if remaining <= ZERO:
            break
        if invoice.id in used or invoice.open_amount <= ZERO:
            continue
        used.add(invoice.id)
        take = min(remaining, invoice.open_amount)
        shares.append(Share(invoice.id, take))
        remaining -= take
    return shares, remaining
