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
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"period must be YYYY-MM, got {text!r}") from None


def previous_month(today: dt.date) -> dt.date:
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)
