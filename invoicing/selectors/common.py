"""Shared by the selector modules: the billing group key, billed agreement types, money field."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db.models import (
    DecimalField,
)

from agreements.models import Agreement
from core.dates import period_bounds

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)
BILLED_TYPES = (Agreement.Type.TIME_AND_MATERIALS, Agreement.Type.PREPAID_HOURS)


class GroupKey(NamedTuple):
    """One invoice per (Account, Currency, PO Number of the agreement's root parent)."""

    account_id: int
    currency: str
    po_number: str


def period_end(period: dt.date) -> dt.date:
    return period_bounds(period)[1]
