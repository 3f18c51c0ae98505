"""PDF forms of the AR aging and the customer statement, through core.pdf (fetches nothing)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from agreements.models import Account
from core.pdf import render_pdf
from receivables import selectors
from receivables.aging import BUCKETS, AgingReport


def _firm() -> dict[str, str]:
    return {"name": settings.BILLING_FIRM_NAME, "address": settings.BILLING_FIRM_ADDRESS}


def aging_pdf(report: AgingReport) -> bytes:
    return render_pdf(
        "receivables/pdf/aging.html",
        {"report": report, "buckets": BUCKETS, "firm": _firm(), "generated_at": timezone.now()},
    )


def statement_pdf(*, account: Account, as_of: dt.date) -> bytes:
    sections = selectors.customer_statement(account=account, as_of=as_of)
    return render_pdf(
        "receivables/pdf/statement.html",
        {
            "account": account,
            "as_of": as_of,
            "sections": sections,
            "firm": _firm(),
            "generated_at": timezone.now(),
        },
    )
