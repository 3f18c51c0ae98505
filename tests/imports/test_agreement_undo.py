"""Undo of an agreement import (SPEC 1.4, the import history page): created agreements and
accounts removed, changed ones restored field by field from history, refused while billed or
changed since, and the page flow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from agreements.import_history import agreement_import_undo
from agreements.models import Account, Agreement, Milestone, RoleRate
from agreements.services import agreement_import
from core.imports import UndoRefused
from core.models import ImportRecord
from invoicing.models import EntryBilling, Invoice, MilestoneBilling
from tests.browser import log_in
from tests.factories import InvoiceFactory, InvoiceLineFactory, TimeEntryFactory
from tests.imports.data import agreement, agreements_csv, snapshot

pytestmark = pytest.mark.django_db

FIXED = {
    "Agreement ID": "AGR-2",
    "Project Code": "PRJ-2",
    "Agreement Type": "Fixed Fee",
    "Amount": "12000",
    "Hourly Rate": "",
    "Milestones": "Kickoff:40:2026-02-01; Done:60",
}
SKIP = {"updated_at"}


def state() -> dict[str, list[dict]]:
    """Every stored account, agreement, role rate and milestone, all fields but updated_at."""
    return {
        name: [
            {k: v for k, v in row.items() if k not in SKIP}
            for row in model.objects.order_by("pk").values()
        ]
        for name, model in (
            ("accounts", Account),
            ("agreements", Agreement),
            ("role_rates", RoleRate),
            ("milestones", Milestone),
        )
    }


def first_import(user):
    data = agreements_csv(
        agreement(**{"Role Rates": "Engineer=150; Architect=200", "PO Number": "PO-1"}),
        agreement(**FIXED),
    )
    result = agreement_import(file=data, user=user, file_name="crm.csv")
    assert (result.created, result.updated) == (2, 0), result.errors
    return result


def test_undo_of_a_create_only_import_removes_what_it_created(billing_admin):
    result = first_import(billing_admin)
    assert set(Agreement.objects.values_list("import_record_id", flat=True)) == {result.import_id}
    assert Account.objects.get().import_record_id == result.import_id
    assert agreement_import_undo(record_id=result.import_id, user=billing_admin) == {
        "deleted": 3,  # two agreements and their account
        "restored": 0,
    }
    assert state() == {"accounts": [], "agreements": [], "role_rates": [], "milestones": []}
    for model, count in ((Agreement, 2), (Account, 1), (RoleRate, 2), (Milestone, 2)):
        gone = model.history.filter(history_type="-")
        assert gone.count() == count
        assert {(h.history_user, h.history_change_reason) for h in gone} == {
            (billing_admin, f"undo of import {result.import_id}")
        }
    record = ImportRecord.objects.get()
    assert (record.status, record.undone_by) == ("undone", billing_admin)
    with pytest.raises(UndoRefused, match="already undone"):
        agreement_import_undo(record_id=result.import_id, user=billing_admin)


def test_undo_restores_changed_agreements_field_by_field(billing_admin, services_manager):
    first = first_import(billing_admin)
    before = state()
    changed = agreements_csv(
        agreement(**{
            "Role Rates": "Engineer=175; Lead=250", "PO Number": "PO-2", "End Date": "2026-12-31",
            "Billing Email": "billing@acme.example", "Agreement Name": "Acme platform",
        }),
        agreement(**{**FIXED, "Amount": "15000", "Milestones": "All:100:2026-03-01",
                     "Billing Email": "billing@acme.example"}),
        agreement(**{"Agreement ID": "AGR-3", "Account ID": "ACC-9", "Account Name": "Globex",
                     "Project Code": "PRJ-3"}),
    )  # fmt: skip
    second = agreement_import(file=changed, user=services_manager)
    assert (second.created, second.updated) == (1, 2), second.errors
    assert Agreement.objects.get(external_id="AGR-1").import_record_id == second.import_id
    with pytest.raises(UndoRefused, match="came after this one; undo that one first"):
        agreement_import_undo(record_id=first.import_id, user=billing_admin)

    assert agreement_import_undo(record_id=second.import_id, user=services_manager) == {
        "deleted": 2,  # AGR-3 and its new account
        "restored": 3,  # AGR-1, AGR-2 and the account ACC-1
    }
    assert state() == before  # every field, import_record included; removed milestone recreated
    restored = Agreement.objects.get(external_id="AGR-1")
    assert (restored.po_number, restored.end_date, restored.name) == ("PO-1", None, "")
    assert restored.import_record_id == first.import_id
    latest = restored.history.first()
    assert (latest.history_type, latest.history_user, latest.history_change_reason) == (
        "~",
        services_manager,
        f"undo of import {second.import_id}",
    )
    # The first import is again the latest in force, and can be undone in turn.
    agreement_import_undo(record_id=first.import_id, user=billing_admin)
    assert not Agreement.objects.exists() and not Account.objects.exists()


def test_undo_of_an_import_that_changed_only_the_rate_card(billing_admin):
    first_import(billing_admin)
    before = state()
    again = agreement_import(
        file=agreements_csv(agreement(**{"Role Rates": "Engineer=160", "PO Number": "PO-1"})),
        user=billing_admin,
    )
    assert again.updated == 1
    assert Agreement.objects.get(external_id="AGR-1").import_record_id == again.import_id
    agreement_import_undo(record_id=again.import_id, user=billing_admin)
    assert state() == before


def _invoice_line(agreement: Agreement):
    invoice = InvoiceFactory(account=agreement.account)
    return InvoiceLineFactory(invoice=invoice, agreement=agreement)


def _entry_billing(agreement: Agreement) -> None:
    line = InvoiceLineFactory(invoice=InvoiceFactory(account=agreement.account))
    EntryBilling.objects.create(
        entry=TimeEntryFactory(), agreement=agreement, invoice=line.invoice, line=line,
        period=dt.date(2026, 1, 1), rounded_minutes=90, billed_minutes=90,
    )  # fmt: skip


def _milestone_billing(agreement: Agreement) -> None:
    fixed = Agreement.objects.get(external_id="AGR-2")
    line = InvoiceLineFactory(invoice=InvoiceFactory(account=fixed.account))
    MilestoneBilling.objects.create(
        milestone=fixed.milestones.first(), invoice=line.invoice, line=line
    )


@pytest.mark.parametrize(
    ("bill", "billed"),
    [(_invoice_line, "AGR-1"), (_entry_billing, "AGR-1"), (_milestone_billing, "AGR-2")],
    ids=["invoice-line", "entry-billing", "milestone-billing"],
)
def test_undo_refused_once_an_agreement_is_billed(billing_admin, bill, billed):
    result = first_import(billing_admin)
    bill(Agreement.objects.get(external_id="AGR-1"))
    before = snapshot()
    with pytest.raises(UndoRefused) as exc:
        agreement_import_undo(record_id=result.import_id, user=billing_admin)
    assert str(exc.value) == (
        f"Agreement(s) {billed} are billed (on an invoice, draft or not); "
        "this import cannot be undone."
    )
    assert snapshot() == before
    assert ImportRecord.objects.get().status == "done"


def test_undo_refused_when_a_later_import_or_a_hand_changed_an_agreement(billing_admin):
    first = first_import(billing_admin)
    later = agreement_import(
        file=agreements_csv(agreement(**{"Role Rates": "Engineer=150; Architect=200",
                                         "PO Number": "PO-9"})),
        user=billing_admin, file_name="later.csv",
    )  # fmt: skip
    assert later.updated == 1
    with pytest.raises(UndoRefused) as exc:
        agreement_import_undo(record_id=first.import_id, user=billing_admin)
    assert str(exc.value) == (
        f"Import {later.import_id} (later.csv) came after this one; undo that one first."
    )
    agreement_import_undo(record_id=later.import_id, user=billing_admin)
    # Changed since by other means than an import: refused, naming the agreement.
    changed = Agreement.objects.get(external_id="AGR-2")
    changed.po_number = "BY-HAND"
    changed.save()
    before = snapshot()
    with pytest.raises(UndoRefused) as exc:
        agreement_import_undo(record_id=first.import_id, user=billing_admin)
    assert str(exc.value) == (
        "Agreement(s) AGR-2 changed since this import; this import cannot be undone."
    )
    assert snapshot() == before


def test_undo_refused_for_an_import_recorded_before_rows_were(billing_admin):
    first_import(billing_admin)
    Agreement.objects.update(import_record=None)
    Agreement.history.update(import_record=None)
    Account.history.update(import_record=None)
    with pytest.raises(UndoRefused, match="written before agreement imports recorded their rows"):
        agreement_import_undo(record_id=ImportRecord.objects.get().pk, user=billing_admin)


def test_history_page_offers_undo_of_agreement_imports(client_for, billing_admin, auditor):
    result = first_import(billing_admin)
    client = client_for(billing_admin)
    page = client.get(reverse("import_history")).content.decode()
    assert "crm.csv" in page and f'action="/imports/{result.import_id}/undo/"' in page
    assert (
        f"/imports/{result.import_id}/undo/"
        not in client_for(auditor).get(reverse("import_history")).content.decode()
    )
    assert (
        client_for(auditor).post(reverse("import_undo", args=[result.import_id])).status_code == 403
    )
    _invoice_line(Agreement.objects.get(external_id="AGR-1"))
    response = client.post(reverse("import_undo", args=[result.import_id]), follow=True)
    assert "Agreement(s) AGR-1 are billed" in response.content.decode()
    assert Agreement.objects.count() == 2
    # Once the draft is gone, the undo goes through.
    Invoice.objects.all().delete()
    response = client.post(reverse("import_undo", args=[result.import_id]), follow=True)
    assert (
        f"Import {result.import_id} (crm.csv) undone: 3 removed, 0 restored"
        in response.content.decode()
    )
    assert not Agreement.objects.exists()
    assert ImportRecord.objects.get().undone_by == billing_admin


@pytest.mark.browser
def test_undo_of_an_agreement_import_in_the_browser(page, live_server, billing_admin):
    result = first_import(billing_admin)
    log_in(page, billing_admin)
    page.goto(live_server.url + reverse("import_history"))
    row = page.locator(f"table.import-history tr[data-import='{result.import_id}']")
    assert "crm.csv" in row.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Undo')").click()
    page.wait_for_selector(".messages li.success")
    assert "undone: 3 removed, 0 restored" in page.locator(".messages li.success").inner_text()
    assert not Agreement.objects.exists() and not Account.objects.exists()
