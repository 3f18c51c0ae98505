"""The invoice review screen: who may see and do what, and that every change goes through the
services (server-side checks, POST only, refused changes change nothing)."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from core.templatetags.money import money
from invoicing import services
from invoicing.models import CreditNote, EntryBilling, Invoice, InvoiceRun
from tests.api.test_permission_matrix import snapshot
from tests.factories import InvoiceFactory, InvoiceLineFactory
from tests.invoicing.helpers import FEB, JAN, approve, build_firm
from tests.world import invoice_with_lines

D = Decimal
# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("approved_mail")]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def drafts():
    build_firm()
    services.invoice_run_generate(period=JAN)
    return {i.po_number or i.currency: i for i in Invoice.objects.all()}


def test_review_lists_drafts_with_totals_and_flag_warnings(client_for, billing_admin, drafts):
    response = client_for(billing_admin).get(reverse("invoicing:review") + "?period=2026-01")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Invoice review</h1>" in html
    assert "Generate invoices for January 2026" in html
    assert f"Draft #{drafts['PO-1'].pk}" in html and "USD 4,145.63" in html and "EUR 88.00" in html
    assert "OVER_CAP 12 (released)" in html  # an entry released over a cap is billed: warned
    assert 'name="ids"' in html and "Approve selected" in html


@pytest.mark.parametrize("persona", ["auditor", "finance"])
def test_auditor_and_finance_see_invoices_read_only(request, client_for, persona, drafts):
    client = client_for(request.getfixturevalue(persona))
    invoice = drafts["PO-1"]
    html = client.get(reverse("invoicing:review") + "?period=2026-01").content.decode()
    assert "USD 4,145.63" in html
    assert "Approve selected" not in html and "Generate invoices" not in html
    detail = client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert (
        "P100: Engineer" in detail and 'id="approve"' not in detail and "Add a line" not in detail
    )
    for name, data in [("invoicing:approve", {}), ("invoicing:reject", {"reason": "x"})]:
        assert client.post(reverse(name, args=[invoice.pk]), data).status_code == 403
    assert client.post(reverse("invoicing:approve_many"), {"ids": [invoice.pk]}).status_code == 403
    assert client.post(reverse("invoicing:run_start"), {"period": "2026-01"}).status_code == 403
    line = invoice.lines.first()
    assert (
        client.post(
            reverse("invoicing:adjust_line", args=[line.pk]), {"amount": "1.00", "reason": "x"}
        ).status_code
        == 403
    )
    invoice.refresh_from_db()
    line.refresh_from_db()
    assert (invoice.status, invoice.total, line.amount) == ("draft", D("4145.63"), line.amount)
    assert not InvoiceRun.objects.filter(status="queued").exists()


@pytest.mark.parametrize("persona", ["services_manager", "outsider"])
def test_other_roles_cannot_open_invoices(request, client_for, persona, drafts):
    client = client_for(request.getfixturevalue(persona))
    invoice = drafts["PO-1"]
    for url in [
        reverse("invoicing:review"),
        reverse("invoicing:detail", args=[invoice.pk]),
        reverse("invoicing:pdf", args=[invoice.pk]),
    ]:
        assert client.get(url).status_code == 403


def test_detail_shows_lines_with_entries_and_inline_pdf(client_for, billing_admin, drafts):
    client = client_for(billing_admin)
    invoice = drafts["PO-1"]
    html = client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert "Wireframes" in html and "Ben Baker" in html.replace(
        "Employee 0", ""
    )  # entries under lines
    assert f'src="{reverse("invoicing:pdf", args=[invoice.pk])}"' in html
    pdf = client.get(reverse("invoicing:pdf", args=[invoice.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["X-Frame-Options"] == "SAMEORIGIN"
    assert pdf.content.startswith(b"%PDF")


def test_changes_are_post_only(client_for, billing_admin, drafts):
    client = client_for(billing_admin)
    invoice = drafts["PO-1"]
    assert client.get(reverse("invoicing:approve", args=[invoice.pk])).status_code == 405
    invoice.refresh_from_db()
    assert invoice.status == "draft"


def test_adjust_then_another_admin_approves(
    client_for, billing_admin, second_billing_admin, drafts
):
    invoice = drafts["PO-2"]
    line = invoice.lines.get()
    bella = client_for(billing_admin)
    bella.post(
        reverse("invoicing:adjust_line", args=[line.pk]),
        {"amount": "70.00", "reason": "Rounded down"},
    )
    line.refresh_from_db()
    assert (line.amount, line.adjustment_reason, line.adjusted_by) == (
        D("70.00"),
        "Rounded down",
        billing_admin,
    )

    response = bella.post(
        reverse("invoicing:approve", args=[invoice.pk]), {"version": "2"}, follow=True
    )
    assert "another billing admin must approve it" in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.total) == ("draft", D("70.00"))

    response = client_for(second_billing_admin).post(
        reverse("invoicing:approve", args=[invoice.pk]), {"version": "2"}, follow=True
    )
    assert "Approved as INV-2026-00001" in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("approved", "INV-2026-00001")
    assert invoice.history.first().history_user == second_billing_admin


def test_adjust_without_reason_and_reject_without_reason_change_nothing(
    client_for, billing_admin, drafts
):
    client = client_for(billing_admin)
    invoice = drafts["PO-1"]
    line = invoice.lines.first()
    client.post(reverse("invoicing:adjust_line", args=[line.pk]), {"amount": "1.00", "reason": ""})
    client.post(reverse("invoicing:reject", args=[invoice.pk]), {"reason": ""})
    invoice.refresh_from_db()
    line.refresh_from_db()
    assert (invoice.status, invoice.total, invoice.adjusted_by) == ("draft", D("4145.63"), None)
    assert line.adjusted_by is None
    assert EntryBilling.objects.filter(invoice=invoice).count() == 5


def test_add_line_and_reject_with_reason(client_for, billing_admin, drafts):
    client = client_for(billing_admin)
    invoice = drafts["PO-1"]
    client.post(
        reverse("invoicing:add_line", args=[invoice.pk]),
        {
            "description": "Travel",
            "amount": "120.00",
            "tax_rate": "10",
            "agreement": str(drafts["PO-1"].lines.first().agreement_id),
            "reason": "Agreed travel costs",
        },
    )
    invoice.refresh_from_db()
    assert invoice.lines.filter(kind="adjustment", amount=D("120.00")).exists()
    assert (invoice.net, invoice.tax, invoice.total) == (D("4188.75"), D("88.88"), D("4277.63"))
    client.post(
        reverse("invoicing:reject", args=[invoice.pk]), {"reason": "Customer asked to wait"}
    )
    invoice.refresh_from_db()
    assert (
        invoice.status == "rejected" and not EntryBilling.objects.filter(invoice=invoice).exists()
    )


def test_bulk_approve_numbers_in_id_order(client_for, billing_admin, drafts):
    ids = sorted(i.pk for i in drafts.values())
    response = client_for(billing_admin).post(
        reverse("invoicing:approve_many"), {"ids": [f"{i}:1" for i in ids], "period": "2026-01"}
    )
    assert response.status_code == 302 and response["Location"].endswith("?period=2026-01")
    numbers = list(Invoice.objects.order_by("id").values_list("number", flat=True))
    assert numbers == ["INV-2026-00001", "INV-2026-00002", "INV-2026-00003"]


def test_send_and_credit_note_from_the_page(
    client_for, billing_admin, finance, drafts, django_capture_on_commit_callbacks
):
    invoice = approve(invoice=drafts["PO-2"], user=billing_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(billing_admin).post(reverse("invoicing:send", args=[invoice.pk]))
    invoice.refresh_from_db()
    assert (invoice.status, invoice.sent_to, len(mail.outbox)) == ("sent", "ap@acme.example", 1)
    fiona = client_for(finance)
    assert fiona.post(reverse("invoicing:send", args=[invoice.pk])).status_code == 403
    url = reverse("invoicing:credit_note", args=[invoice.pk])
    asked = fiona.post(url, {"amount": "25.00", "reason": "Goodwill"})
    assert asked.status_code == 200 and not CreditNote.objects.exists()
    fiona.post(url, {"amount": "25.00", "reason": "Goodwill", "date": "", "confirm": "1"})
    note = CreditNote.objects.get()
    assert (note.number, note.amount, note.created_by) == ("CN-2026-00001", D("25.00"), finance)
    fiona.post(url, {"amount": "50.01", "reason": "Too much", "confirm": "1"})
    assert CreditNote.objects.count() == 1
    html = fiona.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert "CN-2026-00001" in html and "USD 50.00" in html  # open amount after the credit
    assert (
        fiona.get(reverse("invoicing:credit_note_pdf", args=[note.pk]))["Content-Type"]
        == "application/pdf"
    )


def test_credit_note_asks_first_with_the_amount_and_writes_nothing_until_confirmed(
    client_for, billing_admin, finance, drafts
):
    invoice = approve(invoice=drafts["PO-2"], user=billing_admin)
    fiona = client_for(finance)
    url = reverse("invoicing:credit_note", args=[invoice.pk])
    before = snapshot()
    asked = fiona.post(url, {"amount": "25.00", "reason": "Goodwill", "date": "2026-02-10"})
    html = asked.content.decode()
    assert asked.status_code == 200 and snapshot() == before
    assert "Create a credit note for USD 25.00?" in html
    assert '<dd id="credit-amount">USD 25.00</dd>' in html
    assert f'<dd id="credit-open-after">{money(invoice.total - D("25.00"), "USD")}</dd>' in html
    assert "<dd>2026-02-10</dd>" in html and "<dd>Goodwill</dd>" in html
    # The confirmation carries the same values; only its POST creates the note.
    for name, value in [("amount", "25.00"), ("reason", "Goodwill"), ("date", "2026-02-10")]:
        assert f'<input type="hidden" name="{name}" value="{value}">' in html
    assert '<input type="hidden" name="confirm" value="1">' in html
    too_much = fiona.post(url, {"amount": "99999.00", "reason": "x"}).content.decode()
    assert "it cannot be credited" in too_much and 'id="confirm-credit-note"' not in too_much
    assert snapshot() == before
    fiona.post(url, {"amount": "25.00", "reason": "Goodwill", "date": "2026-02-10", "confirm": "1"})
    note = CreditNote.objects.get()
    assert (note.amount, note.reason, note.date) == (D("25.00"), "Goodwill", dt.date(2026, 2, 10))


def test_send_all_approved_of_the_month_links_to_that_months_approved_invoices(
    client_for, billing_admin, finance, drafts
):
    po1 = approve(invoice=drafts["PO-1"], user=billing_admin)
    eur = approve(invoice=drafts["EUR"], user=billing_admin)
    acme = po1.account
    # Approved, but of the months around January; and PO-2 stays a draft.
    feb = invoice_with_lines(
        acme, ["300.00"], seq=900, period=FEB, invoice_date=dt.date(2026, 2, 1)
    )
    dec = invoice_with_lines(
        acme,
        ["200.00"],
        seq=901,
        year=2025,
        period=dt.date(2025, 12, 1),
        invoice_date=dt.date(2025, 12, 31),
    )
    client = client_for(billing_admin)
    review = client.get(reverse("invoicing:review") + "?period=2026-01").content.decode()
    link = re.search(r'<a href="([^"]+)" id="send-all-approved">([^<]+)</a>', review)
    assert link is not None and link[2] == "Send all approved invoices of January 2026…"
    href = html.unescape(link[1])
    assert href == (
        reverse("invoicing:bulk_send")
        + "?all=1&status=approved&date_from=2026-01-01&date_to=2026-01-31"
    )
    confirm = client.get(href).content.decode()
    assert "Send 2 invoices?" in confirm
    assert (
        f"<strong>{money(eur.total, 'EUR')}</strong>, <strong>{money(po1.total, 'USD')}</strong>"
        in (confirm)
    )
    assert po1.number in confirm and eur.number in confirm
    assert feb.number not in confirm and dec.number not in confirm
    assert f"Draft #{drafts['PO-2'].pk}" not in confirm and len(mail.outbox) == 0
    # Finance reads the review page but sends nothing: no link.
    other = client_for(finance).get(reverse("invoicing:review") + "?period=2026-01")
    assert 'id="send-all-approved"' not in other.content.decode()


def test_generate_button_runs_and_reports_progress(
    client_for, billing_admin, django_capture_on_commit_callbacks
):
    build_firm()
    client = client_for(billing_admin)
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        response = client.post(reverse("invoicing:run_start"), {"period": "2026-01"})
    # The run's task is enqueued after the run row commits (eager here), then, after the run's
    # own writes commit, the stored KPI unbilled value's refresh (timesheets).
    names = [getattr(c, "__name__", repr(c)) for c in enqueued]
    assert len(enqueued) == 2 and names[1] == "_enqueue_unbilled_refreshes", names
    assert response.status_code == 302
    run = InvoiceRun.objects.get()
    assert (run.status, run.started_by, run.invoices_created) == ("done", billing_admin, 3)
    status = client.get(reverse("invoicing:run_status", args=[run.pk])).json()
    assert status | {"id": 0} == {
        "id": 0,
        "period": "2026-01",
        "status": "done",
        "groups_done": 3,
        "groups_total": 3,
        "invoices_created": 3,
        "invoices_updated": 0,
        "entries_billed": 8,
        "error": "",
    }
    assert Invoice.objects.filter(status="draft").count() == 3
    assert Invoice.history.filter(history_type="+").first().history_user == billing_admin


def test_review_queries_do_not_grow_with_drafts(
    client_for, billing_admin, django_assert_max_num_queries
):
    for _ in range(30):
        InvoiceLineFactory(invoice=InvoiceFactory())
    client = client_for(billing_admin)
    client.get(reverse("invoicing:review") + "?period=2026-01")  # warm the session
    with django_assert_max_num_queries(13):  # + the OTP device read (issue 17)
        response = client.get(reverse("invoicing:review") + "?period=2026-01")
    assert response.content.decode().count("Draft #") == 30


def test_review_paginates_drafts_and_approved_invoices_with_flat_queries(
    client_for, billing_admin, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import AgreementFactory, FlagFactory, TimeEntryFactory

    agreement = AgreementFactory()
    drafts = []
    for i in range(120):
        line = InvoiceLineFactory(invoice=InvoiceFactory(), agreement=agreement)
        drafts.append(line.invoice)
        if i % 10 == 0:  # every tenth draft bills an entry with an open flag: a warning
            entry = TimeEntryFactory(external_id=f"W{i}")
            EntryBilling.objects.create(
                entry=entry,
                agreement=agreement,
                invoice=line.invoice,
                line=line,
                period=line.invoice.period,
                rounded_minutes=60,
                billed_minutes=60,
            )
            FlagFactory(code="OVER_CAP", entry=entry, status="released", reason="OK")
    for i in range(1, 61):
        InvoiceFactory(
            status="approved", number=f"INV-2026-{i:05d}", number_year=2026, number_seq=i
        )
    client = client_for(billing_admin)
    url = reverse("invoicing:review") + "?period=2026-01"
    client.get(url)  # warm the session

    counts, pages = [], {}
    for query in ("", "&page=3", "&page=2&approved_page=2"):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url + query)
        counts.append(len(ctx.captured_queries))
        pages[query] = response.content.decode()
    assert len(set(counts)) == 1, counts  # the same queries on every page
    with django_assert_max_num_queries(14):
        client.get(url + "&page=2")

    first, third, second = pages[""], pages["&page=3"], pages["&page=2&approved_page=2"]
    ordered = sorted(drafts, key=lambda d: (d.account.name, d.account.external_id, d.pk))
    assert first.count("Draft #") == 50 and third.count("Draft #") == 20
    assert f"Draft #{ordered[0].pk}<" in first and f"Draft #{ordered[49].pk}<" in first
    assert f"Draft #{ordered[50].pk}<" not in first
    assert f"Draft #{ordered[100].pk}<" in third and f"Draft #{ordered[119].pk}<" in third
    assert "Page 1 of 3 (120 rows)" in first and "period=2026-01&amp;page=2" in first
    assert "Page 3 of 3 (120 rows)" in third and "Next →" not in third.split("Approved")[0]
    assert first.count("OVER_CAP W") == 5 and third.count("OVER_CAP W") == 2  # warnings per row
    # Approved invoices: 50 then 10, paged on their own without losing the drafts' page.
    assert first.count("INV-2026-") == 50 and second.count("INV-2026-") == 10
    assert "Approved page 2 of 2 (60 invoices)" in second and "Page 2 of 3" in second
    # Lines are on the detail page only.
    assert "Consulting" not in first


def test_review_counts_a_periods_drafts_and_final_invoices_in_one_query(client_for, billing_admin):
    """The two pagers' counts come from one grouped count: drafts and final invoices of the
    period only (not rejected ones, not another period's)."""
    from invoicing.selectors import period_counts

    for _ in range(3):
        InvoiceFactory()
    InvoiceFactory(status="rejected", rejection_reason="wrong rate")
    InvoiceFactory(period=FEB)
    for seq, status in enumerate(["approved", "sent", "partially_paid", "paid"], start=1):
        InvoiceFactory(
            status=status, number=f"INV-2026-{seq:05d}", number_year=2026, number_seq=seq
        )
    InvoiceFactory(
        period=FEB, status="approved", number="INV-2026-00009", number_year=2026, number_seq=9
    )
    assert period_counts(JAN) == {"drafts": 3, "final": 4}
    html = client_for(billing_admin).get(reverse("invoicing:review") + "?period=2026-01")
    text = html.content.decode()
    assert 'Drafts for January 2026 <span class="muted">(3)</span>' in text
    assert 'Approved invoices for January 2026 <span class="muted">(4)</span>' in text
    assert text.count("Draft #") == 4  # three drafts and the rejected one
    assert "wrong rate" in text
