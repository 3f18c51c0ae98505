"""The e-invoices of the shared test worlds are valid (issue 14): every approved invoice and credit
note that `tests/world/` produces passes the official EN 16931 rules in UBL, CII and Factur-X
with no fatal failure, not only the purpose-built `tests.world.einvoice`.

- `small_firm()`: the January run's drafts (T&M with a rate card, a Prepaid Hours child, Fixed Fee
  milestones at 0% beside 10% lines, a second PO, EUR), approved as a reviewer does, plus a
  credit note per currency. Its accounts have no address or VAT ID: the buyer's country is the
  firm's (SPEC 1.1).
- `many_groups(4)`: four groups are every shape the builder has (g % 3 picks EUR or USD, g % 4
  the 8.875% rate, g % 2 a PO) plus its Prepaid Hours and Fixed Fee account; all approved.
- `make_world()`: its approved and disputed invoices (built by `invoice_with_lines`) and its
  credit note. Their stored "PDFs" are stubs, so their Factur-X is the final PDF the render
  worker would store (`invoice_pdf`, `credit_note_pdf`).

`final_invoice()` builds invoices without lines for the receivables tests; no run or approval
can produce one (an e-invoice needs a line, BR-16), so it is not an e-invoice source.
All files of a world go to one validator process (the stylesheets compile once); no rule fails,
not even a warning.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from invoicing.einvoice import einvoice_file
from invoicing.models import CreditNote, Invoice
from invoicing.pdf import credit_note_pdf, invoice_pdf
from invoicing.services import credit_note_create, invoice_run_generate
from tests.invoicing.helpers import approve, validate
from tests.world import JAN, make_world, many_groups, small_firm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def approve_the_run(user) -> list[Invoice]:
    invoice_run_generate(period=JAN)
    drafts = list(Invoice.objects.filter(status="draft").order_by("id"))
    assert drafts
    return [approve(invoice=d, user=user) for d in drafts]


def credit_per_currency(invoices: list[Invoice], user) -> list[CreditNote]:
    notes = []
    for currency in sorted({i.currency for i in invoices}):
        invoice = next(i for i in invoices if i.currency == currency)
        note = credit_note_create(
            invoice=invoice,
            amount=(invoice.total / 3).quantize(Decimal("0.01")),
            reason="Service credit",
            user=user,
            date=invoice.invoice_date,
        )
        notes.append(note)  # its Factur-X PDF is stored by credit_note_create
    return notes


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def assert_valid(paths: list[Path]) -> None:
    result = validate(paths)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    # The validator prints one line per failed rule: none fails, fatal or warning.
    assert result.stdout == "", result.stdout[-5000:]


def einvoices(subjects, tmp_path: Path, formats=("ubl", "cii", "facturx")) -> list[Path]:
    files = [(fmt, einvoice_file(s, fmt)) for s in subjects for fmt in formats]
    return [write(tmp_path, f"{fmt}-{f.filename}", f.content) for fmt, f in files]


def test_small_firm_einvoices_pass_en16931(billing_admin, tmp_path):
    small_firm()
    invoices = approve_the_run(billing_admin)
    assert {i.currency for i in invoices} == {"USD", "EUR"}
    notes = credit_per_currency(invoices, billing_admin)
    paths = einvoices([*invoices, *notes], tmp_path)
    assert len(paths) == 3 * (len(invoices) + len(notes))
    assert_valid(paths)


def test_many_groups_einvoices_pass_en16931(billing_admin, tmp_path):
    many_groups(groups=4, entries_per_group=3)
    invoices = approve_the_run(billing_admin)
    assert len(invoices) == 5
    rates = {line.tax_rate for i in invoices for line in i.lines.all()}
    assert rates == {Decimal("0"), Decimal("8.875")}
    notes = credit_per_currency(invoices, billing_admin)
    assert_valid(einvoices([*invoices, *notes], tmp_path))


def test_make_world_einvoices_pass_en16931(tmp_path):
    world = make_world()
    invoices = [world.approved, world.disputed]
    assert all(i.is_final for i in invoices)
    paths = einvoices([*invoices, world.credit_note], tmp_path, formats=("ubl", "cii"))
    # Their stored PDFs are stubs: the Factur-X is what the render worker would store.
    paths += [write(tmp_path, f"facturx-{i.number}.pdf", invoice_pdf(i)) for i in invoices]
    note = world.credit_note
    paths.append(write(tmp_path, f"facturx-{note.number}.pdf", credit_note_pdf(note)))
    assert len(paths) == 9
    assert_valid(paths)
