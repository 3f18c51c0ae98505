"""Billing dates are dates in the firm's time zone (BILLING_TIME_ZONE)."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def firm_today() -> dt.date:
    return timezone.now().astimezone(ZoneInfo(settings.BILLING_TIME_ZONE)).date()


def period_bounds(period: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the calendar month containing `period`."""
    first = period.replace(day=1)
    last = period.replace(day=calendar.monthrange(period.year, period.month)[1])
    return first, last


def parse_period(text: str) -> dt.date:
    """'YYYY-MM' -> first day of that month; ValueError with a readable message otherwise."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        value = dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"period must be YYYY-MM, got {text!r}") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"period must be a month of {MIN_YEAR}-{MAX_YEAR}, got {text!r}")
    return value


def previous_month(today: dt.date) -> dt.date:
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


# -- bounds for every date a user gives (query parameters, forms, API bodies, files) ----------
# Far enough apart for any real billing date, close enough that date arithmetic (aging buckets,
# due dates, periods) never leaves Python's and PostgreSQL's range: `as_of=0001-01-01` used to
# answer 500 (issue 17 item 11).
MIN_YEAR = 1900
MAX_YEAR = 2999
DATE_MIN = dt.date(MIN_YEAR, 1, 1)
DATE_MAX = dt.date(MAX_YEAR, 12, 31)
OUT_OF_RANGE = f"Must be a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}."


def check_date_bounds(value: dt.date) -> dt.date:
    """`value`, or ValueError when it lies outside DATE_MIN..DATE_MAX."""
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"{OUT_OF_RANGE} Got {value.isoformat()}.")
    return value


def validate_date_bounds(value: dt.date) -> None:
    """Validator for form fields, serializer fields and filters (pass `DATE_BOUNDS`)."""
    from django.core.exceptions import ValidationError

    try:
        check_date_bounds(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="date_out_of_range") from None


DATE_BOUNDS = (validate_date_bounds,)


def parse_iso_date(text: str) -> dt.date:
    """'YYYY-MM-DD' within the bounds; ValueError with a readable message otherwise."""
    try:
        value = dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ValueError(f"Must be a date as YYYY-MM-DD, got {text!r}.") from None
    return check_date_bounds(value)
