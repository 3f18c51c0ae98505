"""Approval, numbering, the frozen invoice (services, admin, trigger), sending, credit notes."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction

from core import settlement
from core.errors import BillingError
from invoicing import numbering, services
from invoicing.models import CreditNote, EntryBilling, Invoice, InvoiceLine, NumberSequence
from tests.factories import AllocationFactory, InvoiceFactory, InvoiceLineFactory, PaymentFactory
from tests.invoicing.helpers import JAN, approve, build_firm

D = Decimal
# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("approved_mail")]


@pytest.fixture(autouse=True)
def no_flag_refresh(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def draft(amount="1000.00", **kw) -> Invoice:
    invoice = InvoiceFactory(net=D(amount), total=D(amount), **kw)
    InvoiceLineFactory(
        invoice=invoice, amount=D(amount), description="Consulting, January", position=1
    )
    return invoice


def raw_delete(qs):
    """DELETE without Django's PROTECT checks: only the trigger stands in the way."""
    return qs._raw_delete(qs.db)


def generated_draft() -> Invoice:
    build_firm()
    services.invoice_run_generate(period=JAN)
    return Invoice.objects.get(po_number="PO-1")


def test_approval_numbers_renders_stores_hash_and_locks_entries(billing_admin):
    invoice = generated_draft()
    entries = list(EntryBilling.objects.filter(invoice=invoice).values_list("entry_id", flat=True))
    approved = approve(invoice=invoice, user=billing_admin)

    approved.refresh_from_db()
    assert (approved.status, approved.number, approved.number_year, approved.number_seq) == (
        "approved",
        "INV-2026-00001",
        2026,
        1,
    )
    assert approved.approved_by == billing_admin and approved.approved_at is not None
    data = approved.pdf.read()
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == approved.pdf_sha256
    from timesheets.models import TimeEntry

    assert set(TimeEntry.objects.filter(locked=True).values_list("id", flat=True)) == set(entries)
    locked_history = TimeEntry.history.filter(locked=True, history_type="~")
    assert {h.history_user for h in locked_history} == {billing_admin}
    assert approved.history.first().history_user == billing_admin

    second = approve(invoice=draft(), user=billing_admin)
    assert second.number == "INV-2026-00002"


def test_numbers_are_per_year_of_the_invoice_date(billing_admin):
    a = approve(
        invoice=draft(invoice_date=dt.date(2025, 12, 31), period=dt.date(2025, 12, 1)),
        user=billing_admin,
    )
    b = approve(invoice=draft(), user=billing_admin)
    assert (a.number, b.number) == ("INV-2025-00001", "INV-2026-00001")


def test_failed_approval_gives_its_number_back(billing_admin, monkeypatch):
    first, second = draft(), draft()

    real_take = numbering.take_number

    def take_then_crash(**kwargs):
        real_take(**kwargs)
        raise RuntimeError("crashed after taking the number")

    monkeypatch.setattr(numbering, "take_number", take_then_crash)
    with pytest.raises(RuntimeError):
        approve(invoice=first, user=billing_admin)
    first.refresh_from_db()
    assert (first.status, first.number) == ("draft", None)
    monkeypatch.undo()
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    assert approve(invoice=second, user=billing_admin).number == "INV-2026-00001"
    assert approve(invoice=first, user=billing_admin).number == "INV-2026-00002"


def test_adjusted_draft_must_be_approved_by_another_admin(billing_admin, second_billing_admin):
    invoice = generated_draft()
    line = invoice.lines.get(kind="block")
    services.invoice_line_adjust(
        line=line, user=billing_admin, reason="Block discounted 10%", amount="225.00"
    )
    invoice.refresh_from_db()
    assert (invoice.net, invoice.tax, invoice.total) == (D("4043.75"), D("74.38"), D("4118.13"))
    assert invoice.adjusted_by == billing_admin

    with pytest.raises(BillingError, match="another billing admin"):
        approve(invoice=invoice, user=billing_admin)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("draft", None)
    assert not NumberSequence.objects.filter(last__gt=0).exists()

    approved = approve(invoice=invoice, user=second_billing_admin)
    assert approved.number == "INV-2026-00001" and approved.total == D("4118.13")


def test_add_line_with_reason_and_refusals(billing_admin):
    invoice = draft()
    line = services.invoice_line_add(
        invoice=invoice,
        user=billing_admin,
        reason="Loyalty discount",
        description="Discount",
        amount="-100.00",
        tax_rate="0",
    )
    invoice.refresh_from_db()
    assert (line.kind, line.position, line.amount) == ("adjustment", 2, D("-100.00"))
    assert invoice.total == D("900.00")
    for kwargs, message in [
        ({"reason": " "}, "reason is required"),
        ({"amount": "12.345"}, "more than 2 decimal places"),
        ({"amount": "abc"}, "decimal amount"),
        ({"tax_rate": "101"}, "Tax rate"),
        ({"description": ""}, "description"),
    ]:
        args = {
            "invoice": invoice,
            "user": billing_admin,
            "reason": "x",
            "description": "d",
            "amount": "1.00",
            "tax_rate": "0",
        } | kwargs
        with pytest.raises(BillingError, match=message):
            services.invoice_line_add(**args)
    assert invoice.lines.count() == 2


def test_approved_invoice_cannot_be_changed_through_the_services(
    billing_admin, second_billing_admin
):
    invoice = approve(invoice=draft(), user=billing_admin)
    line = invoice.lines.get()
    before = (invoice.total, line.amount, line.description)
    with pytest.raises(BillingError, match="only a draft can be adjusted"):
        services.invoice_line_adjust(
            line=line, user=second_billing_admin, reason="x", amount="1.00"
        )
    with pytest.raises(BillingError, match="only a draft can be adjusted"):
        services.invoice_line_add(
            invoice=invoice, user=second_billing_admin, reason="x", description="d", amount="1"
        )
    with pytest.raises(BillingError, match="only a draft can be rejected"):
        services.invoice_reject(invoice=invoice, user=second_billing_admin, reason="x")
    with pytest.raises(BillingError, match="only a draft can be approved"):
        approve(invoice=invoice, user=second_billing_admin)
    invoice.refresh_from_db()
    line.refresh_from_db()
    assert (invoice.total, line.amount, line.description) == before
    assert (invoice.status, invoice.number) == ("approved", "INV-2026-00001")


def test_postgresql_trigger_refuses_changes_to_an_approved_invoice(billing_admin):
    invoice = generated_draft()
    approve(invoice=invoice, user=billing_admin)
    attempts = [
        lambda: Invoice.objects.filter(pk=invoice.pk).update(total=D("1.00"), net=D("1.00")),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(number="INV-2026-00099"),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(status="draft"),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(due_date=dt.date(2030, 1, 1)),
        lambda: InvoiceLine.objects.filter(invoice=invoice).update(amount=D("0.00")),
        lambda: raw_delete(InvoiceLine.objects.filter(invoice=invoice, kind="block")),
        lambda: InvoiceLine.objects.create(
            invoice=invoice, kind="adjustment", description="x", amount=D("1")
        ),
        lambda: EntryBilling.objects.filter(invoice=invoice).update(
            billed_minutes=0, rounded_minutes=0, line=None
        ),
        lambda: EntryBilling.objects.filter(invoice=invoice).delete(),
        lambda: raw_delete(Invoice.objects.filter(pk=invoice.pk)),
    ]
    for attempt in attempts:
        with (
            pytest.raises(IntegrityError, match="frozen|cannot be deleted|no rows can be added"),
            transaction.atomic(),
        ):
            attempt()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.total, invoice.lines.count()) == ("approved", D("4145.63"), 5)
    # What may still move: forward status, sending, disputes.
    Invoice.objects.filter(pk=invoice.pk).update(
        status="sent", sent_to="ap@acme.example", disputed=True
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.disputed) == ("sent", True)


def test_admin_is_read_only_for_invoices(client, billing_admin, django_user_model):
    invoice = approve(invoice=draft(), user=billing_admin)
    root = django_user_model.objects.create_superuser(
        "root", "root@firm.example", "pw-Billable-2026"
    )
    client.force_login(root)
    url = f"/admin/invoicing/invoice/{invoice.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = client.post(url, {"total": "1.00", "status": "draft"})
    assert response.status_code == 403
    line = invoice.lines.get()
    assert (
        client.post(f"/admin/invoicing/invoice/{invoice.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert client.get("/admin/invoicing/invoice/add/").status_code == 403
    invoice.refresh_from_db()
    line.refresh_from_db()
    assert (invoice.total, invoice.status, line.amount) == (D("1000.00"), "approved", D("1000.00"))


def test_the_admin_cannot_approve_a_draft_it_never_showed_a_version_of(client, billing_admin):
    """Issue 17 item 2: the admin's "approve selected" action approved the draft at the version
    read when the POST arrived, not the one the operator saw (the changelist shows none). The
    admin offers no approval; the review page, the API and the command name the version."""
    invoice = draft()
    billing_admin.is_staff = True
    billing_admin.is_superuser = True
    billing_admin.save()
    client.force_login(billing_admin)
    changelist = client.get("/admin/invoicing/invoice/")
    assert changelist.status_code == 200 and b"approve_selected" not in changelist.content
    for extra in ({}, {"version": invoice.version}, {"ids": f"{invoice.pk}:{invoice.version}"}):
        response = client.post(
            "/admin/invoicing/invoice/",
            {"action": "approve_selected", "index": 0, "_selected_action": [invoice.pk], **extra},
        )
        assert response.status_code == 200  # the list again: no such action
        invoice.refresh_from_db()
        assert (invoice.status, invoice.number) == ("draft", None)


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_approvals_get_sixteen_consecutive_numbers(billing_admin, monkeypatch):
    monkeypatch.setattr(
        "invoicing.services.approval.invoice_pdf",
        lambda invoice: b"%PDF-1.7 " + invoice.number.encode(),
    )
    drafts = [draft() for _ in range(16)]
    barrier = threading.Barrier(16)
    numbers, errors = {}, []

    def approver(invoice):
        try:
            barrier.wait(timeout=30)
            numbers[invoice.pk] = approve(invoice=invoice, user=billing_admin).number
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approver, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers.values()) == [f"INV-2026-{n:05d}" for n in range(1, 17)]
    rows = list(Invoice.objects.order_by("number_seq").values_list("number_seq", "approved_at"))
    assert [r[0] for r in rows] == list(range(1, 17))
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # numbers follow approval order
    assert NumberSequence.objects.get(series="INV", year=2026).last == 16


def test_send_emails_the_stored_pdf_and_records_it(
    billing_admin, django_capture_on_commit_callbacks
):
    invoice = approve(invoice=draft(billing_email="ap@customer.example"), user=billing_admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = services.invoice_send(invoice=invoice, user=billing_admin)
    assert mail.outbox == []  # not while the row is locked: after commit
    for callback in callbacks:
        callback()
    assert (sent.status, sent.sent_to) == ("sent", "ap@customer.example") and sent.sent_at
    (message,) = mail.outbox
    assert message.to == ["ap@customer.example"]
    assert "INV-2026-00001" in message.subject
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == ("INV-2026-00001.pdf", "application/pdf")
    assert hashlib.sha256(content).hexdigest() == invoice.pdf_sha256
    assert sent.history.first().history_user == billing_admin


def test_send_that_the_mail_server_refuses_leaves_the_invoice_approved(
    billing_admin, settings, django_capture_on_commit_callbacks
):
    invoice = approve(invoice=draft(), user=billing_admin)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    with pytest.raises(BillingError, match="Could not send INV-2026-00001 to "):
        with django_capture_on_commit_callbacks(execute=True):
            services.invoice_send(invoice=invoice, user=billing_admin)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.sent_at, invoice.sent_to) == ("approved", None, "")
    assert invoice.history.first().history_user == billing_admin


def test_send_refuses_a_draft_and_an_invoice_without_email(billing_admin):
    with pytest.raises(BillingError, match="not approved"):
        services.invoice_send(invoice=draft(), user=billing_admin)
    invoice = draft(billing_email="")
    invoice.account.billing_email = ""
    invoice.account.save()
    invoice = approve(invoice=invoice, user=billing_admin)
    with pytest.raises(BillingError, match="no billing e-mail"):
        services.invoice_send(invoice=invoice, user=billing_admin)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.sent_at, len(mail.outbox)) == ("approved", None, 0)


def test_credit_notes_reduce_the_open_amount_up_to_what_is_open(billing_admin, finance):
    invoice = approve(invoice=draft(), user=billing_admin)
    payment = PaymentFactory(account=invoice.account, amount=D("300.00"))
    AllocationFactory(payment=payment, invoice=invoice, amount=D("300.00"))
    reversed_payment = PaymentFactory(account=invoice.account, amount=D("50.00"))
    AllocationFactory(
        payment=reversed_payment,
        invoice=invoice,
        amount=D("50.00"),
        reversed_on=dt.date(2026, 2, 20),
        reversal_reason="Bounced",
    )
    assert settlement.open_amount(invoice) == D("700.00")

    note = services.credit_note_create(
        invoice=invoice,
        amount="200.00",
        reason="Hours disputed",
        user=finance,
        date=dt.date(2026, 2, 10),
    )
    assert (note.number, note.amount, note.currency, note.created_by) == (
        "CN-2026-00001",
        D("200.00"),
        "USD",
        finance,
    )
    assert note.pdf.read().startswith(b"%PDF")
    assert settlement.open_amount(invoice) == D("500.00")

    with pytest.raises(BillingError, match="has USD 500.00 open"):
        services.credit_note_create(
            invoice=invoice, amount="500.01", reason="Too much", user=finance
        )
    with pytest.raises(BillingError, match="reason is required"):
        services.credit_note_create(invoice=invoice, amount="1.00", reason="", user=finance)
    with pytest.raises(BillingError, match="positive"):
        services.credit_note_create(invoice=invoice, amount="-1.00", reason="x", user=finance)
    with pytest.raises(BillingError, match="not approved"):
        services.credit_note_create(invoice=draft(), amount="1.00", reason="x", user=finance)
    assert CreditNote.objects.count() == 1

    rest = services.credit_note_create(
        invoice=invoice, amount="500.00", reason="Settled", user=finance, date=dt.date(2026, 3, 1)
    )
    assert rest.number == "CN-2026-00002"
    annotated = settlement.annotate(Invoice.objects.filter(pk=invoice.pk)).get()
    assert (annotated.allocated, annotated.credited, annotated.open_amount) == (
        D("300.00"),
        D("700.00"),
        D("0.00"),
    )
