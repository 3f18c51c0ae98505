"""The bench's data: the demo firm's CSV files at a scale, and the rows no import makes.

Same seed and end date, same bytes: the files' SHA-256 go into the results. The receivables
history the AR aging reads (scale.invoices approved invoices over the months of data, their
payments, allocations and credit notes) is synthesized here and bulk-inserted: making 29,000
approved invoices through approval would render 29,000 PDFs, which is not what is measured.
A second load on the same database (`--reuse-db`) first truncates the payments, allocations and
credit notes an earlier one left, and keeps its invoices (approved invoices cannot be deleted:
the invoicing_invoice_frozen trigger), whose numbers and amounts it checks against its plan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection

from demo import generator as demo

END = dt.date(2026, 6, 30)  # the bench firm's time ends here, whatever today is
SEED = 2026
CENT = Decimal("0.01")


@dataclass
class BenchFiles:
    firm: demo.Firm
    agreements: Path
    entries: Path
    warmup_entries: Path
    agreement_count: int
    entry_count: int
    sha256: dict[str, str]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_files(out_dir: Path, scale: str) -> BenchFiles:
    files = demo.write_demo_files(out_dir, scale=scale, seed=SEED, end=END)
    # Warm-up file: the first 1% of rows (at least 200), so the warm-up costs little at scale.
    warm = out_dir / "time_entries_warmup.csv"
    keep = max(200, files.entry_count // 100)
    with (
        files.entries.open(encoding="utf-8", newline="") as src,
        warm.open("w", encoding="utf-8", newline="") as dst,
    ):
        for n, line in enumerate(src):
            if n > keep:
                break
            dst.write(line)
    return BenchFiles(
        firm=files.firm,
        agreements=files.agreements,
        entries=files.entries,
        warmup_entries=warm,
        agreement_count=files.agreement_count,
        entry_count=files.entry_count,
        sha256={p.name: sha256(p) for p in (files.agreements, files.entries)},
    )


# What a load writes but its invoices, in one TRUNCATE; CASCADE takes what points at them (the
# portal's payment notices, disputes of a credit note).
RECEIVABLES_TABLES = "receivables_allocation, receivables_payment, invoicing_creditnote"


def load_receivables(firm: demo.Firm, count: int) -> dict[str, int]:
    """Approved invoices with payments, allocations, a few reversals and credit notes, in place
    of those an earlier load left."""
    from agreements.models import Account
    from invoicing.models import CreditNote
    from receivables.models import Allocation, Payment

    rng = random.Random(f"receivables:{SEED}:{firm.scale.name}")
    ids = dict(Account.objects.values_list("external_id", "id"))
    accounts = [a for a in firm.accounts if a.external_id in ids]
    invoices = _numbered_invoices(_invoice_plan(rng, accounts, _months(firm), count), ids)
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {RECEIVABLES_TABLES} RESTART IDENTITY CASCADE")
    _save_or_reuse(invoices)
    payments, paid, credits = _settlements(rng, invoices)
    Payment.objects.bulk_create(payments, batch_size=5000)
    CreditNote.objects.bulk_create(credits, batch_size=5000)
    allocations = [
        Allocation(
            payment=payments[i],
            invoice=inv,
            amount=amount,
            date=day,
            reversed_on=rev,
            reversal_reason="Bounced" if rev else "",
        )
        for i, inv, amount, day, rev in paid
    ]
    Allocation.objects.bulk_create(allocations, batch_size=5000)
    return {
        "invoices": len(invoices),
        "payments": len(payments),
        "allocations": len(allocations),
        "credit_notes": len(credits),
    }


def _save_or_reuse(invoices: list[Any]) -> None:
    """Insert the planned invoices, or take the ids of the same invoices an earlier load left:
    the approved invoices in no run and with no approval time (approval sets it)."""
    from invoicing.models import Invoice

    left = {
        number: (pk, account_id, total)
        for number, pk, account_id, total in Invoice.objects.filter(
            status=Invoice.Status.APPROVED, run=None, approved_at=None
        ).values_list("number", "id", "account_id", "total")
    }
    if not left:
        Invoice.objects.bulk_create(invoices, batch_size=5000)
        return
    for inv in invoices:
        pk, account_id, total = left.pop(inv.number, (None, None, None))
        if (account_id, total) != (inv.account_id, inv.total):
            raise RuntimeError(
                f"the database holds another receivables history (invoice {inv.number}): "
                "build it again, or run the invoice_run step first (its reset removes invoices)"
            )
        inv.pk = pk
        inv._state.adding = False
    if left:
        raise RuntimeError(f"the database holds {len(left)} loaded invoices this load has not")


def _months(firm: demo.Firm) -> list[dt.date]:
    """The first day of every month of the firm's data, up to END."""
    months = []
    month = firm.start
    while month <= END:
        months.append(month)
        month = demo.add_months(month, 1)
    return months


_InvoicePlan = tuple[demo.Account, dt.date, dt.date, int, Decimal, Decimal]


def _invoice_plan(
    rng: random.Random, accounts: list[demo.Account], months: list[dt.date], count: int
) -> list[_InvoicePlan]:
    """(account, period, invoice date, terms, net, tax) of `count` invoices, big customers more
    often, in invoice date and account order (the numbering's)."""
    plan = []
    for _ in range(count):
        acc = accounts[int(len(accounts) * rng.random() ** 2)]
        period = months[rng.randrange(len(months))]
        inv_date = demo.month_end(period)
        terms = rng.choice(demo.TERMS)
        net = Decimal(rng.randrange(50_000, 5_000_000)) * CENT
        tax = (net * Decimal(acc.tax) / 100).quantize(CENT)
        plan.append((acc, period, inv_date, terms, net, tax))
    plan.sort(key=lambda p: (p[2], p[0].external_id))
    return plan


def _numbered_invoices(plan: list[_InvoicePlan], ids: dict[str, int]) -> list[Any]:
    """Approved invoices of `plan`, numbered INV-<year>-<n> in plan order (not saved)."""
    from invoicing.models import Invoice

    seq: dict[int, int] = {}
    invoices = []
    for acc, period, inv_date, terms, net, tax in plan:
        year = inv_date.year
        seq[year] = seq.get(year, 0) + 1
        invoices.append(
            Invoice(
                account_id=ids[acc.external_id],
                currency=acc.currency,
                po_number="",
                period=period,
                invoice_date=inv_date,
                due_date=inv_date + dt.timedelta(days=terms),
                status=Invoice.Status.APPROVED,
                number=f"INV-{year}-{seq[year]:05d}",
                number_year=year,
                number_seq=seq[year],
                net=net,
                tax=tax,
                total=net + tax,
                billing_email=acc.email,
            )
        )
    return invoices


def _settlements(
    rng: random.Random, invoices: list[Any]
) -> tuple[list[Any], list[tuple], list[Any]]:
    """(payments, what each pays: (payment index, invoice, amount, date, reversed on), credit
    notes): 2% get a credit note of half, 15% and those paid after END stay open, the rest are
    paid in full or in part, some overpaid, 1% of the payments reversed (not saved)."""
    from receivables.models import Payment

    payments, paid, credits = [], [], []
    cn_seq: dict[int, int] = {}
    for inv in invoices:
        r = rng.random()
        paid_on = inv.due_date + dt.timedelta(days=rng.choice([-12, -5, 0, 3, 9, 20, 45, 80]))
        if r < 0.02:
            credits.append(_credit_note(inv, cn_seq))
        if r > 0.85 or paid_on > END:
            continue  # still open
        share = Decimal(1) if r < 0.75 else Decimal(rng.randrange(20, 90)) / 100
        amount = (inv.total * share).quantize(CENT)
        extra = Decimal(rng.randrange(10, 300)) if rng.random() < 0.03 else Decimal(0)
        payments.append(
            Payment(
                external_id=f"BP-{len(payments) + 1:07d}",
                date=paid_on,
                account_id=inv.account_id,
                amount=amount + extra,
                currency=inv.currency,
                reference=inv.number,
                method="ACH",
            )
        )
        reversed_on = paid_on + dt.timedelta(days=5) if rng.random() < 0.01 else None
        paid.append((len(payments) - 1, inv, amount, paid_on, reversed_on))
    return payments, paid, credits


def _credit_note(inv: Any, seq: dict[int, int]) -> Any:
    """A goodwill credit note of half `inv`, numbered CN-<year>-<n> (not saved)."""
    from invoicing.models import CreditNote

    year = inv.invoice_date.year
    seq[year] = seq.get(year, 0) + 1
    return CreditNote(
        invoice=inv,
        number=f"CN-{year}-{seq[year]:05d}",
        number_year=year,
        number_seq=seq[year],
        date=inv.invoice_date + dt.timedelta(days=10),
        amount=(inv.total / 2).quantize(CENT),
        currency=inv.currency,
        reason="Goodwill",
    )


def pdf_invoices(lines_big: int = 1000) -> tuple[object, object]:
    """A one-page draft invoice (3 lines) and one of `lines_big` lines, on real agreements."""
    from agreements.models import Agreement
    from invoicing.models import Invoice, InvoiceLine

    agreements = list(
        Agreement.objects.filter(stage="signed", agreement_type="time_and_materials")
        .exclude(hourly_rate=None)
        .order_by("external_id")[:50]
    )
    first = agreements[0]
    made = []
    for po, count in (("BENCH-PDF-1", 3), (f"BENCH-PDF-{lines_big}", lines_big)):
        # --reuse-db: a database an earlier run left already holds them (one draft per PO).
        left = Invoice.objects.filter(po_number=po, status="draft").first()
        if left is not None and left.lines.count() == count:
            made.append(left)
            continue
        invoice = Invoice.objects.create(
            account=first.account,
            currency=first.currency,
            po_number=po,
            period=dt.date(2030, 1, 1),
            invoice_date=dt.date(2030, 1, 31),
            due_date=dt.date(2030, 3, 2),
            billing_email=first.account.billing_email,
        )
        rows = []
        net = Decimal(0)
        for k in range(count):
            agr = agreements[k % len(agreements)] if count > 3 else first
            minutes = 60 * (1 + k % 9)
            amount = (Decimal(minutes) * agr.hourly_rate / 60).quantize(CENT)
            net += amount
            rows.append(
                InvoiceLine(
                    invoice=invoice,
                    agreement=agr,
                    kind=InvoiceLine.Kind.TIME,
                    position=k + 1,
                    description=f"{agr.project_code}: Professional services",
                    minutes=minutes,
                    hours=(Decimal(minutes) / 60).quantize(CENT),
                    rate=agr.hourly_rate,
                    amount=amount,
                    tax_rate=Decimal(0),
                )
            )
        InvoiceLine.objects.bulk_create(rows, batch_size=1000)
        invoice.net = invoice.total = net
        invoice.save(update_fields=["net", "total"])
        made.append(invoice)
    return made[0], made[1]
