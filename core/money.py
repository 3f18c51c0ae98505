"""Money: Decimal amounts with an explicit currency, rounded in one place (SPEC: ROUND_HALF_UP, 2 dp)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, TypedDict

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyDigits(TypedDict):
    max_digits: int
    decimal_places: int


# Every amount column: DecimalField(**MONEY_DIGITS) (STYLE: 14 digits, 2 places).
MONEY_DIGITS: Final = MoneyDigits(max_digits=14, decimal_places=2)


def round_money(value: Decimal) -> Decimal:
    """Round a Decimal amount half-up to cents. Never pass a float."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, got {type(value).__name__}")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_amount(value: Decimal | None) -> str:
    """Plain decimal with 2 places, as exports write it ('1234.50')."""
    if value is None:
        return ""
    return f"{round_money(value):.2f}"


def format_money(value: Decimal | int | str, currency: str = "") -> str:
    """The one way money is shown to a person, on pages and in messages: 'USD 9,451.48'.
    The templates' `money` filter and `str(Money)` are this function."""
    text = f"{round_money(Decimal(value)):,.2f}"
    return f"{currency} {text}".strip()


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be Decimal")
        if len(self.currency) != 3:
            raise ValueError("currency must be an ISO 4217 code")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)
