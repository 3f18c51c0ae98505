"""PDF forms of the AR aging and the customer statement, through core.pdf (fetches nothing)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from agreements.models import Account
from core.pdf import firm_letterhead, render_pdf
from receivables import selectors
from receivables.aging import BUCKETS, AgingReport


def aging_pdf(report: AgingReport) -> bytes:
    return render_pdf(
        "receivables/pdf/aging.html",
        {
            "report": report,
            "buckets": BUCKETS,
            "firm": firm_letterhead(),
            "generated_at": timezone.now(),
        },
    )


def statement_pdf(*, account: Account, as_of: dt.date) -> bytes:
    sections = selectors.customer_statement(account=account, as_of=as_of)
    return render_pdf(
        "receivables/pdf/statement.html",
        {
            "account": account,
            "as_of": as_of,
            "sections": sections,
            "firm": firm_letterhead(),
            "generated_at": timezone.now(),
        },
    )
