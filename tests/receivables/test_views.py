"""Finance pages: finance acts, auditor reads, other roles are refused; refused posts change nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from receivables.models import Allocation, Payment, Reminder
from receivables.services import payment_record
from tests.factories import AccountFactory
from tests.world import final_invoice

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("approved_mail")]

D = Decimal
TODAY = dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen_day(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def acme():
    return AccountFactory(external_id="ACME", name="Acme", billing_email="ap@acme.example")


READ_PAGES = [
    "receivables:aging",
    "receivables:payments",
    "receivables:unapplied",
    "receivables:dunning",
]


@pytest.mark.parametrize("name", READ_PAGES)
def test_finance_and_auditor_read_every_page_others_are_refused(
    name, client_for, finance, auditor, billing_admin, services_manager, outsider
):
    assert client_for(finance).get(reverse(name)).status_code == 200
    assert client_for(auditor).get(reverse(name)).status_code == 200
    for user in (billing_admin, services_manager, outsider):
        assert client_for(user).get(reverse(name)).status_code == 403


def test_disputes_page_is_read_by_finance_auditor_and_billing_admins(
    client_for, finance, auditor, billing_admin, services_manager, outsider
):
    for user in (finance, auditor, billing_admin):
        assert client_for(user).get(reverse("receivables:disputes")).status_code == 200
    for user in (services_manager, outsider):
        assert client_for(user).get(reverse("receivables:disputes")).status_code == 403


def test_auditor_cannot_act_and_nothing_changes(client_for, auditor, acme):
    inv = final_invoice(acme, "100.00")
    payment = payment_record(
        account=acme, date=dt.date(2026, 4, 1), amount=D("150.00"), currency="USD", user=None
    )
    allocation = payment.allocations.get()
    client = client_for(auditor)
    posts = [
        (
            reverse("receivables:payment_new"),
            {"account": "ACME", "date": "2026-04-15", "amount": "5", "currency": "USD"},
        ),
        (reverse("receivables:allocation_reverse", args=[allocation.pk]), {"reason": "x"}),
        (
            reverse("receivables:payment_apply", args=[payment.pk]),
            {"invoice": inv.pk, "amount": "1"},
        ),
        (
            reverse("receivables:invoice_dispute", args=[inv.pk]),
            {"category": "other", "message": "x"},
        ),
        (reverse("receivables:dunning_run"), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert client.get(reverse("receivables:payment_new")).status_code == 403
    assert Payment.objects.count() == 1
    allocation.refresh_from_db()
    assert allocation.reversed_on is None
    inv.refresh_from_db()
    assert (inv.disputed, inv.status) == (False, "paid")
    assert Reminder.objects.count() == 0


def test_aging_page_shows_rows_and_drill_down(
    client_for, finance, acme, django_assert_max_num_queries
):
    inv = final_invoice(acme, "1000.00", due=dt.date(2026, 3, 1))
    payment_record(
        account=acme,
        date=dt.date(2026, 4, 1),
        amount=D("400.00"),
        currency="USD",
        reference=inv.number,
        user=finance,
    )
    client = client_for(finance)
    # 8 + 2 dispute KPIs + per-request auth (OTP, session) + the cache's version read (a miss
    # here; a cached view skips the report's 4)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("receivables:aging"), {"as_of": "2026-04-15"})
    body = response.content.decode()
    assert "<h1>AR aging</h1>" in body
    assert "Acme" in body and "600.00" in body
    detail = client.get(
        reverse("receivables:aging_detail", args=[acme.pk, "USD"]), {"as_of": "2026-04-15"}
    ).content.decode()
    assert inv.number in detail and "400.00" in detail and "600.00" in detail
    # As of before the payment, the drill-down shows the full amount open.
    before = client.get(
        reverse("receivables:aging_detail", args=[acme.pk, "USD"]), {"as_of": "2026-03-31"}
    ).content.decode()
    assert "1,000.00" in before and "400.00" not in before


def test_aging_exports_download(client_for, auditor, acme):
    final_invoice(acme, "250.00", due=dt.date(2026, 1, 1))
    client = client_for(auditor)
    url = reverse("receivables:aging_export")
    response = client.get(url, {"as_of": "2026-04-15", "format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="ar-aging-2026-04-15.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1] == [
        "ACME",
        "Acme",
        "USD",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "250.00",
        "0.00",
        "250.00",
    ]
    xlsx = client.get(url, {"as_of": "2026-04-15", "format": "xlsx"})
    assert load_workbook(io.BytesIO(xlsx.content)).active["H2"].value == 250
    pdf = client.get(url, {"as_of": "2026-04-15", "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.get(url, {"format": "exe"}).status_code == 404
    assert client.get(url, {"as_of": "2026-02-30", "format": "csv"}).status_code == 400
    statement = client.get(
        reverse("receivables:statement", args=[acme.pk]), {"as_of": "2026-04-15"}
    )
    assert statement.content.startswith(b"%PDF")


def test_record_a_payment_by_hand(client_for, finance, acme):
    inv = final_invoice(acme, "1000.00")
    response = client_for(finance).post(
        reverse("receivables:payment_new"),
        {
            "account": "ACME",
            "date": "2026-04-10",
            "amount": "300.00",
            "currency": "usd",
            "reference": f"{inv.number} card 4111 1111 1111 1111",
            "method": "card",
            "external_id": "",
        },
    )
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("receivables:payment", args=[payment.pk])
    assert payment.external_id.startswith("MAN-20260410-")
    assert payment.reference == f"{inv.number} card **** **** **** 1111"
    assert payment.history.get().history_user == finance
    inv.refresh_from_db()
    assert inv.status == "partially_paid"
    assert inv.history.first().history_user == finance


def test_record_payment_form_errors_write_nothing(client_for, finance, acme):
    response = client_for(finance).post(
        reverse("receivables:payment_new"),
        {"account": "NOPE", "date": "2026-04-10", "amount": "-1", "currency": "USD"},
    )
    assert response.status_code == 200
    assert "No account with ID" in response.content.decode()
    assert Payment.objects.count() == 0


def test_apply_and_reverse_by_hand(client_for, finance, acme):
    payment = payment_record(
        account=acme, date=dt.date(2026, 4, 1), amount=D("500.00"), currency="USD", user=finance
    )
    inv = final_invoice(acme, "300.00")
    client = client_for(finance)
    page = client.get(reverse("receivables:payment", args=[payment.pk])).content.decode()
    assert inv.number in page and "Apply unapplied cash" in page
    client.post(
        reverse("receivables:payment_apply", args=[payment.pk]),
        {"invoice": inv.pk, "amount": "300.00"},
    )
    allocation = Allocation.objects.get()
    assert (allocation.amount, allocation.date) == (D("300.00"), dt.date(2026, 4, 15))
    # Too much: refused with a message, nothing written.
    response = client.post(
        reverse("receivables:payment_apply", args=[payment.pk]),
        {"invoice": inv.pk, "amount": "1.00"},
        follow=True,
    )
    assert "has only USD 0.00 open" in response.content.decode()
    assert Allocation.objects.count() == 1
    client.post(reverse("receivables:allocation_reverse", args=[allocation.pk]), {"reason": ""})
    allocation.refresh_from_db()
    assert allocation.reversed_on is None
    client.post(
        reverse("receivables:allocation_reverse", args=[allocation.pk]),
        {"reason": "Applied to the wrong invoice"},
    )
    allocation.refresh_from_db()
    assert (allocation.reversed_on, allocation.reversed_by, allocation.reversal_reason) == (
        dt.date(2026, 4, 15),
        finance,
        "Applied to the wrong invoice",
    )
    inv.refresh_from_db()
    assert inv.status == "approved"


def test_dispute_and_clear_from_the_invoice_page(client_for, finance, acme):
    inv = final_invoice(acme, "300.00")
    client = client_for(finance)
    client.post(
        reverse("receivables:invoice_dispute", args=[inv.pk]),
        {"category": "rate", "message": "Rate wrong"},
    )
    inv.refresh_from_db()
    assert (inv.disputed, inv.dispute_reason) == (True, "Rate wrong")
    assert inv.number in client.get(reverse("receivables:disputes")).content.decode()
    client.post(reverse("receivables:invoice_dispute_clear", args=[inv.pk]))
    inv.refresh_from_db()
    assert inv.disputed is False


def test_upload_payments_preview_then_import(client_for, finance, acme):
    inv = final_invoice(acme, "100.00")
    client = client_for(finance)
    text = (
        f"Payment ID,Date,Account ID,Amount,Reference\nB-1,2026-04-10,ACME,100.00,{inv.number}\n"
    ).encode()
    preview = client.post(
        reverse("receivables:payment_upload"),
        {"file": SimpleUploadedFile("bank.csv", text, "text/csv")},
    )
    body = preview.content.decode()
    assert "Preview of bank.csv" in body and f"applied USD 100.00 to {inv.number}" in body
    assert Payment.objects.count() == 0
    token = preview.context["token"]
    done = client.post(reverse("receivables:payment_upload"), {"token": token})
    assert done.status_code == 302
    assert Payment.objects.get().history.get().history_user == finance
    inv.refresh_from_db()
    assert inv.status == "paid"
    # The token is spent.
    again = client.post(reverse("receivables:payment_upload"), {"token": token}, follow=True)
    assert "expired" in again.content.decode()
    assert Payment.objects.count() == 1


def test_upload_with_errors_lists_them_and_offers_no_import(client_for, finance, acme):
    text = b"Payment ID,Date,Account ID,Amount\nB-1,2026-04-10,NOPE,100.00\n"
    response = client_for(finance).post(
        reverse("receivables:payment_upload"), {"file": SimpleUploadedFile("bank.csv", text)}
    )
    body = response.content.decode()
    assert "line 2: Account ID: account NOPE does not exist" in body
    assert 'name="token"' not in body
    assert Payment.objects.count() == 0


def test_dunning_page_and_run_now(client_for, finance, acme):
    inv = final_invoice(acme, "100.00", due=dt.date(2026, 4, 9), pdf=True)  # 6 days past due
    client = client_for(finance)
    page = client.get(reverse("receivables:dunning"))
    assert [d.invoice.pk for d in page.context["due_tomorrow"]] == [inv.pk]
    assert page.context["due_today"] == []
    client.post(reverse("receivables:dunning_run"))
    assert Reminder.objects.count() == 0  # nothing due today
    with time_machine.travel(TODAY + dt.timedelta(days=1), tick=False):
        client = client_for(finance)  # a day later the 8 h idle session has ended: log in again
        client.post(reverse("receivables:dunning_run"))  # not confirmed on the preview: refused
        assert Reminder.objects.count() == 0
        preview = client.get(reverse("receivables:dunning_preview")).content.decode()
        digest = preview.split('name="confirm_digest" value="', 1)[1].split('"', 1)[0]
        client.post(reverse("receivables:dunning_run"), {"confirm_digest": digest})
    assert list(Reminder.objects.values_list("level", "status")) == [(7, "sent")]
    assert inv.number in client.get(reverse("receivables:dunning")).content.decode()
