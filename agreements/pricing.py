"""Agreement pricing rules (SPEC 3), each in its forms side by side: Python, SQL text, ORM.

- **Rounding**: an entry's minutes are rounded *up* to the agreement's Billing Increment.
- **Rate**: the role rate whose name equals the entry's Role (case-insensitive, surrounding
  whitespace ignored), else the Hourly Rate, else none (MISSING_RATE): `rate_for`, and in SQL
  whether there is one, `has_rate_sql` (reconciliation's MISSING_RATE). `role_key` is that
  comparison key; a RoleRate stores it (`RoleRate.role_key`) so SQL can join on it.
- **Amount**: a line's minutes (summed after rounding each entry) x rate / 60, rounded once:
  `amount_for`. Invoice generation and the KPI tiles' unbilled value both price with these.

Lower-casing is Python's `str.lower` and PostgreSQL's `LOWER` (C.UTF-8); they agree on every
letter except a few (e.g. Turkish dotted capital I), which the property test leaves out.
tests/agreements/test_pricing.py checks on PostgreSQL that the forms agree on random data.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from django.db.models import ExpressionWrapper, F, Func, IntegerField, Value
from django.db.models.functions import Lower

from core.money import round_money

MS_PER_MINUTE = 60_000
# What "surrounding whitespace" means, the same for Python and SQL (ASCII whitespace).
WHITESPACE = " \t\n\v\f\r"
_WHITESPACE_SQL = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"


def round_up_minutes(duration_ms: int, increment: int) -> int:
    """Minutes rounded UP to the increment: 61 min at 15 -> 75; an exact multiple stays."""
    if duration_ms <= 0:
        raise ValueError("duration must be positive")
    if increment <= 0:
        raise ValueError("billing increment must be positive")
    step_ms = increment * MS_PER_MINUTE
    return -(-duration_ms // step_ms) * increment


def rounded_minutes_sql(ms: str, increment: str) -> str:
    """SQL form of `round_up_minutes` over integer columns (integer division rounds down)."""
    step = f"(({increment}) * {MS_PER_MINUTE})"
    return f"(((({ms}) + {step} - 1) / {step}) * ({increment}))"


def rounded_minutes_expr(ms: Any, increment: Any) -> ExpressionWrapper:
    """ORM form of `round_up_minutes`; arguments are field names or expressions."""
    ms = F(ms) if isinstance(ms, str) else ms
    increment = F(increment) if isinstance(increment, str) else increment
    step = increment * MS_PER_MINUTE
    return ExpressionWrapper((ms + step - 1) / step * increment, output_field=IntegerField())


def role_key(role: str) -> str:
    """The key a role is compared by (Python form)."""
    return role.strip(WHITESPACE).lower()


def role_key_sql(expr: str) -> str:
    """SQL form of `role_key`."""
    return f"LOWER(BTRIM({expr}, {_WHITESPACE_SQL}))"


def role_key_expr(field: str) -> Lower:
    """ORM form of `role_key`."""
    return Lower(Func(F(field), Value(WHITESPACE), function="BTRIM"))


class RateCardRow(Protocol):
    @property
    def role_key(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def rate(self) -> Decimal: ...


def rate_for(
    role: str, role_rates: Iterable[RateCardRow], hourly_rate: Decimal | None
) -> tuple[str, Decimal] | None:
    """(rate-card role as written, rate) for an entry's role, ("", Hourly Rate), or None."""
    key = role_key(role)
    for rr in role_rates:
        if rr.role_key == key:
            return rr.role, rr.rate
    if hourly_rate is not None:
        return "", hourly_rate
    return None


def has_rate_sql(e: str = "e", a: str = "a", role_rates: str = "agreements_rolerate") -> str:
    """Condition: entry alias `e` has a rate under agreement alias `a`, i.e. `rate_for` is not
    None: a row of `role_rates` (the RoleRate table, or a copy of it) for the entry's role key,
    or an Hourly Rate. MISSING_RATE is its negation (SQL form)."""
    return (
        f"({a}.hourly_rate IS NOT NULL OR EXISTS (SELECT 1 FROM {role_rates} r "
        f"WHERE r.agreement_id = {a}.id AND r.role_key = {role_key_sql(f'{e}.role')}))"
    )


def amount_for(minutes: int, rate: Decimal) -> Decimal:
    """A time line's amount: its rounded minutes x the hourly rate / 60, rounded half up once."""
    return round_money(Decimal(minutes) * rate / 60)
