"""Portal pages: balance and aging, payment instructions, downloads, "we paid" notices that
finance matches, entries behind lines when enabled, disputes with files; the card-number guard
on every portal text input; every action in the portal's history with the contact as actor."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal import services
from portal.models import PaymentNotice, PortalEvent
from receivables import disputes
from receivables.models import Dispute, DisputeAttachment, DisputeMessage
from tests.factories import PaymentFactory
from tests.world import portal_client

TODAY = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)  # 18 days after the 2026-03-02 due date
CARD = "4111 1111 1111 1111"
MASKED = "**** **** **** 1111"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.mark.django_db
def test_home_shows_balance_aging_and_how_to_pay(alpha, beta, settings):
    settings.BILLING_FIRM_IBAN = "IE29AIBK93115212345678"
    PaymentFactory(account=alpha.account, amount=Decimal("50.00"), date=dt.date(2026, 3, 1))
    page = portal_client(alpha.contact).get("/portal/").content.decode()
    # 1000.00 - credit note 100.00 = 900.00 open, 18 days late; 50.00 paid ahead (unapplied).
    assert '<div class="value balance" data-currency="USD">USD 850.00</div>' in page
    assert "after USD 50.00 paid in advance" in page
    assert '<div>1-30 days late</div><div class="value">USD 900.00</div>' in page
    assert '<div>Not yet due</div><div class="value">USD 0.00</div>' in page
    assert '<strong class="iban">IE29AIBK93115212345678</strong>' in page
    assert "Northwind IT Services" in page  # the letterhead
    assert alpha.invoice.number in page and beta.invoice.number not in page


@pytest.mark.django_db
def test_invoice_page_quotes_its_number_and_downloads(alpha):
    client = portal_client(alpha.contact)
    page = client.get(reverse("portal:invoice", args=[alpha.invoice.pk])).content.decode()
    assert f'<strong class="quote">{alpha.invoice.number}</strong>' in page
    assert "Server patching" not in page  # entries are off by default
    pdf = client.get(reverse("portal:invoice_pdf", args=[alpha.invoice.pk]))
    assert pdf["Content-Disposition"] == f'attachment; filename="{alpha.invoice.number}.pdf"'
    assert b"".join(pdf.streaming_content).startswith(b"%PDF-1.4 portal test")
    note = client.get(reverse("portal:credit_note_pdf", args=[alpha.credit_note.pk]))
    assert note.status_code == 200 and note["Content-Type"] == "application/pdf"
    statement = client.get(reverse("portal:statement"))
    assert statement["Content-Disposition"] == 'attachment; filename="statement-2026-03-20.pdf"'
    assert statement.content.startswith(b"%PDF-")
    assert list(PortalEvent.objects.order_by("id").values_list("action", "detail")) == [
        ("download", alpha.invoice.number),
        ("download", alpha.credit_note.number),
        ("download", "statement 2026-03-20"),
    ]
    assert client.get("/portal/").headers["Cache-Control"] == "no-store, private"


@pytest.mark.django_db
def test_entries_behind_lines_only_when_the_firm_enables_them(alpha, finance):
    client = portal_client(alpha.contact)
    url = reverse("portal:invoice", args=[alpha.invoice.pk])
    services.portal_account_set(account=alpha.account, show_entries=True, user=finance)
    page = client.get(url).content.decode()
    assert "2026-01-12 · Engineer · 3.00 h · Server patching" in page
    assert "2026-01-13 · Engineer · 3.00 h · Backup check" in page
    services.portal_account_set(account=alpha.account, show_entries=False, user=finance)
    assert "Server patching" not in client.get(url).content.decode()


@pytest.mark.django_db
def test_we_paid_notice_is_an_expected_payment_finance_matches(alpha, finance, client_for):
    client = portal_client(alpha.contact)
    url = reverse("portal:notice_new", args=[alpha.invoice.pk])
    client.post(url, {"date": "2026-03-18", "amount": "900.00", "reference": f"card {CARD}"})
    notice = PaymentNotice.objects.exclude(pk=alpha.notice.pk).get()
    assert (notice.date, notice.amount, notice.currency, notice.reference, notice.status) == (
        dt.date(2026, 3, 18),
        Decimal("900.00"),
        "USD",
        f"card {MASKED}",
        "expected",
    )
    assert notice.history.get().history_change_reason == f"portal: {alpha.contact.email}"
    refused = client.post(url, {"date": "2026-03-21", "amount": "900.00"})
    assert [str(m) for m in refused.wsgi_request._messages][-1] == (
        "The payment date cannot be in the future."
    )
    assert PaymentNotice.objects.count() == 2
    payment = PaymentFactory(
        external_id="BANK-77",
        account=alpha.account,
        amount=Decimal("900.00"),
        date=dt.date(2026, 3, 19),
    )
    staff = client_for(finance)
    listing = staff.get("/contacts/notices/").content.decode()
    assert "BANK-77 (2026-03-19)" in listing
    staff.post(f"/contacts/notices/{notice.pk}/match/", {"payment": "BANK-77"})
    notice.refresh_from_db()
    assert (notice.status, notice.payment, notice.handled_by) == ("matched", payment, finance)


@pytest.mark.django_db
def test_contact_disputes_lines_with_a_file_and_replies(alpha, settings):
    # The fixture's dispute is closed, so the invoice can be disputed again.
    disputes.dispute_withdraw(dispute=alpha.dispute, user=None)
    client = portal_client(alpha.contact)
    line2 = alpha.invoice.lines.get(position=2)
    response = client.post(
        reverse("portal:dispute_new", args=[alpha.invoice.pk]),
        {
            "category": "overbilling",
            "message": f"Project hours doubled; paid by card {CARD}",
            "lines": [str(line2.pk)],
            "files": [SimpleUploadedFile("timesheet.csv", b"date,hours\n2026-01-12,3\n")],
        },
    )
    dispute = Dispute.objects.get(status="open")
    assert response["Location"] == f"/portal/disputes/{dispute.pk}/"
    assert (dispute.opened_by, dispute.opened_by_customer) == (None, alpha.contact.email)
    assert list(dispute.lines.all()) == [line2]
    first = dispute.messages.get()
    assert first.body == f"Project hours doubled; paid by card {MASKED}"
    assert first.attachments.get().original_name == "timesheet.csv"
    alpha.invoice.refresh_from_db()
    assert alpha.invoice.disputed is True
    client.post(reverse("portal:dispute_comment", args=[dispute.pk]), {"message": f"also {CARD}"})
    assert dispute.messages.last().body == f"also {MASKED}"
    assert list(
        PortalEvent.objects.filter(contact=alpha.contact).values_list("action", flat=True)
    ) == ["dispute_message", "dispute_opened"]
    page = client.get(reverse("portal:dispute", args=[dispute.pk])).content.decode()
    assert "Credit note" not in page and "Open" in page


@pytest.mark.django_db
def test_card_numbers_never_stored_from_any_portal_input(alpha):
    """The card-number guard covers every free-text portal input."""
    disputes.dispute_withdraw(dispute=alpha.dispute, user=None)
    client = portal_client(alpha.contact)
    fixture_files = list(DisputeAttachment.objects.values_list("id", flat=True))
    inputs = [
        (
            reverse("portal:notice_new", args=[alpha.invoice.pk]),
            {"date": "2026-03-18", "amount": "1.00", "reference": CARD},
        ),
        (
            reverse("portal:dispute_new", args=[alpha.invoice.pk]),
            {
                "category": "other",
                "message": CARD,
                "files": [SimpleUploadedFile(f"{CARD}.csv", b"a,b\n")],
            },
        ),
    ]
    for url, data in inputs:
        client.post(url, data)
    dispute = Dispute.objects.get(status="open")
    client.post(
        reverse("portal:dispute_comment", args=[dispute.pk]),
        {"message": CARD, "files": [SimpleUploadedFile("card_4111_1111_1111_1111.txt", b"x")]},
    )
    names = [
        *DisputeAttachment.objects.exclude(id__in=fixture_files)
        .order_by("id")
        .values_list("original_name", flat=True),
        *DisputeAttachment.history.exclude(id__in=fixture_files).values_list(
            "original_name", flat=True
        ),
    ]
    assert names[:2] == ["xxxx xxxx xxxx 1111.csv", "card_xxxx xxxx xxxx 1111.txt"]
    stored = [
        *PaymentNotice.objects.values_list("reference", flat=True),
        *DisputeMessage.objects.values_list("body", flat=True),
        *PaymentNotice.history.values_list("reference", flat=True),
        *DisputeMessage.history.values_list("body", flat=True),
        *names,
    ]
    digits = CARD.replace(" ", "")
    assert all(digits not in s.replace(" ", "").replace("-", "").replace("_", "") for s in stored)
    assert stored.count(MASKED) == 6
    assert len(names) == 4


@pytest.mark.django_db
def test_invoices_page_pages_through_every_invoice_and_credit_note(alpha, monkeypatch):
    """No cap: the invoices and the credit notes each come in pages, all reachable."""
    from portal import views
    from tests.factories import CreditNoteFactory
    from tests.world import invoice_with_lines

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    numbers = {alpha.invoice.number}
    for seq in range(101, 105):
        numbers.add(invoice_with_lines(alpha.account, ["10.00"], seq=seq).number)
    notes = {alpha.credit_note.number}
    for n in range(2):
        notes.add(CreditNoteFactory(invoice=alpha.invoice, number=f"CN-2026-9000{n}").number)
    client = portal_client(alpha.contact)
    seen: list[str] = []
    url = reverse("portal:invoices")
    for page in (1, 2, 3):
        html = client.get(url).content.decode()
        assert f"<span>Page {page} of 3</span>" in html
        table = html.split('id="all-invoices"')[1].split("</table>")[0]
        seen += [n for n in numbers if f">{n}</a>" in table]
        if page < 3:
            url = reverse("portal:invoices") + f"?page={page + 1}&cn_page=1"
            assert f'href="?page={page + 1}&amp;cn_page=1" id="older-invoices"' in html
    assert sorted(seen) == sorted(numbers)  # each invoice on exactly one page
    first = client.get(reverse("portal:invoices")).content.decode()
    second = client.get(reverse("portal:invoices") + "?page=1&cn_page=2").content.decode()
    shown = [
        n
        for html in (first, second)
        for n in notes
        if f"<td>{n}</td>" in html.split('id="credit-notes"')[1].split("</table>")[0]
    ]
    assert sorted(shown) == sorted(notes)
    assert "<span>Page 2 of 2</span>" in second.split('id="credit-notes"')[1]
