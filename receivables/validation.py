"""The two refusals every door of a payment shares (SPEC 4): no date after today (firm time zone),
no currency outside ISO 4217. The import, the service, the API serializer and the page form all
ask these functions, so the rule and its wording live in one place.
"""

from __future__ import annotations

import datetime as dt

from core import csvio
from core.dates import firm_today


def future_date_problem(date: dt.date, *, what: str = "payment") -> str | None:
    """The message for a date after today in the firm's time zone, else None."""
    today = firm_today()
    if date > today:
        return (
            f"is after today ({date.isoformat()} > {today.isoformat()}); "
            f"a {what} cannot be dated in the future"
        )
    return None


def currency_problem(code: str) -> str | None:
    """The message for a code that is not an ISO 4217 currency (capitals), else None."""
    try:
        csvio.parse_currency(code)
    except csvio.FieldError as exc:
        return str(exc)
    return None
