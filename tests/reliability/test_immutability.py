"""Immutability (issue 9): an approved invoice and its lines cannot be changed by any door.

One invoice is generated from real entries and approved. Then every way in is tried: the
services, the Django admin (as a superuser), the REST API (as a billing admin and an auditor),
and the ORM below the services (`update()`, `save()`, `bulk_update`, `delete`, `create`, raw
SQL), where only the PostgreSQL triggers stand in the way. A trial is one attempt; a violation
is an attempt that changed anything (invoice, lines, entry billings, entries) or that was
"refused" with a server error (5xx) instead of a clear refusal.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from core.errors import BillingError
from invoicing import services
from invoicing.models import EntryBilling, Invoice, InvoiceLine
from tests.factories import AgreementFactory, TimeEntryFactory, UserFactory
from tests.invoicing.helpers import approve
from tests.reliability.billing_data import PERIOD
from timesheets.models import TimeEntry

STUB_PDF = b"%PDF-1.4\n%stub\ntrailer<<>>\n%%EOF\n"


def snapshot(invoice_id: int) -> dict:
    inv = Invoice.objects.get(pk=invoice_id)
    data = model_to_dict(inv)
    data.pop("pdf", None)
    data["pdf_name"] = inv.pdf.name
    return {
        "invoice": {k: str(v) for k, v in data.items()},
        "lines": sorted(
            tuple(str(v) for v in model_to_dict(ln).values())
            for ln in InvoiceLine.objects.filter(invoice_id=invoice_id)
        ),
        "claims": sorted(
            EntryBilling.objects.filter(invoice_id=invoice_id).values_list(
                "entry_id", "line_id", "billed_minutes"
            )
        ),
        "entries": sorted(
            TimeEntry.objects.filter(billing__invoice_id=invoice_id).values_list(
                "external_id", "date", "duration_ms", "project_code", "role", "billable", "locked"
            )
        ),
    }


@pytest.fixture
def approved(transactional_db, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr("invoicing.services.approval.invoice_pdf", lambda invoice: STUB_PDF)
    agreement = AgreementFactory(
        external_id="IMM-1", project_code="IMM-P", start_date=dt.date(2025, 12, 1)
    )
    for i in range(4):
        TimeEntryFactory(
            external_id=str(810000 + i),
            external_number=Decimal(810000 + i),
            project_code="IMM-P",
            date=dt.date(2026, 1, 5 + i),
            duration_ms=3_600_000,
        )
    services.invoice_run_generate(period=PERIOD)
    invoice = Invoice.objects.get(account=agreement.account)
    admin_user = UserFactory(username="imm-approver", roles=["Billing admin"])
    approve(invoice=invoice, user=admin_user)
    invoice.refresh_from_db()
    assert invoice.status == "approved" and invoice.lines.exists()
    return invoice


def attempt(
    log, invoice_id: int, label: str, fn, *, redirect_ok: bool = False, must_raise: bool = True
) -> None:
    """Run one attempt; it must change nothing, and be refused at its own layer: the services
    with a BillingError, the admin and the API with a 4xx answer (`redirect_ok`: admin actions
    refuse with a redirect and a message, or, on an admin that offers no action at all, by
    showing the list again), the ORM and SQL by the database. A page or API call
    that reaches the database trigger would be a 500 for its user: a violation."""
    log.trial()
    before = snapshot(invoice_id)
    layer = label.split()[0]
    outcome = "no error"
    try:
        with transaction.atomic():
            result = fn()
        if hasattr(result, "status_code"):
            outcome = f"HTTP {result.status_code}"
            log.check(result.status_code < 500, f"{label}: server error {result.status_code}")
            refused = result.status_code >= 400 or (
                redirect_ok and result.status_code in (200, 302)
            )
            log.check(refused, f"{label}: answered {result.status_code}, not a refusal")
    except BillingError as exc:
        outcome = f"BillingError: {exc}"
        log.check(layer == "service", f"{label}: BillingError escaped the {layer} layer")
    except (IntegrityError, DatabaseError) as exc:
        outcome = f"database refused: {str(exc).splitlines()[0]}"
        log.check(
            layer == "ORM", f"{label}: only the database trigger refused it (a 500 for the user)"
        )
    except Exception as exc:  # noqa: BLE001
        outcome = f"{type(exc).__name__}: {exc}"
        log.violation(f"{label}: unexpected {outcome}")
    if layer in ("service", "ORM") and must_raise:
        log.check(outcome != "no error", f"{label}: no refusal at all")
    after = snapshot(invoice_id)
    log.check(after == before, f"{label}: changed the approved invoice ({outcome})")
    log.notes.setdefault("outcomes", {})[label] = outcome[:160]


@pytest.mark.django_db(transaction=True)
def test_services_refuse_to_change_an_approved_invoice(approved, trial_log):
    inv, user = approved, UserFactory(username="imm-other", roles=["Billing admin"])
    line = inv.lines.first()
    attempt(
        trial_log,
        inv.pk,
        "service adjust line",
        lambda: services.invoice_line_adjust(
            line=line, user=user, reason="cheaper", amount=Decimal("1.00")
        ),
    )
    attempt(
        trial_log,
        inv.pk,
        "service add line",
        lambda: services.invoice_line_add(
            invoice=inv, user=user, reason="extra", description="Extra", amount=Decimal("50.00")
        ),
    )
    attempt(
        trial_log,
        inv.pk,
        "service reject",
        lambda: services.invoice_reject(invoice=inv, user=user, reason="oops"),
    )
    attempt(
        trial_log,
        inv.pk,
        "service approve again",
        lambda: approve(invoice=inv, user=user),
    )
    # A re-run with a new entry for the same group makes a new draft; the approved one stays.
    TimeEntryFactory(
        external_id="819999",
        external_number=Decimal(819999),
        project_code="IMM-P",
        date=dt.date(2026, 1, 20),
    )
    attempt(
        trial_log,
        inv.pk,
        "service re-run the period",
        lambda: services.invoice_run_generate(period=PERIOD),
        must_raise=False,
    )
    trial_log.check(
        Invoice.objects.filter(status="draft", account=inv.account).count() == 1,
        "the re-run did not put the new entry on a new draft",
    )
    trial_log.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_orm_and_sql_changes_are_refused_by_the_database(approved, trial_log):
    inv = approved
    lines = InvoiceLine.objects.filter(invoice=inv)
    claims = EntryBilling.objects.filter(invoice=inv)
    one = Invoice.objects.filter(pk=inv.pk)
    tries = {
        "update total": lambda: one.update(total=Decimal("1.00")),
        "update net and total": lambda: one.update(
            net=Decimal("1.00"), total=Decimal("1.00") + inv.tax
        ),
        "update status to draft": lambda: one.update(status="draft"),
        "update status to rejected": lambda: one.update(status="rejected"),
        "update number": lambda: one.update(number="INV-2026-99999"),
        "update due date": lambda: one.update(due_date=dt.date(2030, 1, 1)),
        "update account": lambda: one.update(account=AgreementFactory(external_id="IMM-X").account),
        "update currency": lambda: one.update(currency="EUR"),
        "update pdf hash": lambda: one.update(pdf_sha256="0" * 64),
        "update approved_by": lambda: one.update(approved_by=None),
        "save() changed total": lambda: _save(
            inv.pk, net=Decimal("2.00"), total=Decimal("2.00") + inv.tax
        ),
        "delete invoice": lambda: one.delete(),
        "line update amount": lambda: lines.update(amount=Decimal("1.00")),
        "line update description": lambda: lines.update(description="changed"),
        "line update minutes": lambda: lines.update(minutes=1),
        "line save()": lambda: _save_line(inv.pk),
        "line bulk_update": lambda: InvoiceLine.objects.bulk_update(
            [_changed(ln) for ln in lines], ["amount"]
        ),
        "line delete": lambda: lines.delete(),
        "line create": lambda: InvoiceLine.objects.create(
            invoice=inv, kind="adjustment", description="sneaky", amount=Decimal("-100.00")
        ),
        "claim delete": lambda: claims.delete(),
        "claim update": lambda: claims.update(billed_minutes=0, line=None),
        "claim move to other line": lambda: claims.update(invoice=None, line=None),
        "raw SQL update invoice": lambda: _sql(
            "UPDATE invoicing_invoice SET total = 0, net = 0, tax = 0 WHERE id = %s", inv.pk
        ),
        "raw SQL update lines": lambda: _sql(
            "UPDATE invoicing_invoiceline SET amount = 0 WHERE invoice_id = %s", inv.pk
        ),
        "raw SQL delete lines": lambda: _sql(
            "DELETE FROM invoicing_invoiceline WHERE invoice_id = %s", inv.pk
        ),
    }
    for label, fn in tries.items():
        attempt(trial_log, inv.pk, f"ORM {label}", fn)
        trial_log.check(
            trial_log.notes["outcomes"][f"ORM {label}"].startswith("database refused"),
            f"ORM {label}: not refused by the database: {trial_log.notes['outcomes'][f'ORM {label}']}",
        )
    # What may still change after approval does (the trigger is not a blanket lock).
    with transaction.atomic():
        one.update(status="sent", disputed=True, dispute_reason="Customer queries line 1")
    assert Invoice.objects.get(pk=inv.pk).status == "sent"
    trial_log.assert_clean()


def _save(pk, **changes):
    obj = Invoice.objects.get(pk=pk)
    for k, v in changes.items():
        setattr(obj, k, v)
    obj.save()


def _save_line(invoice_id):
    line = InvoiceLine.objects.filter(invoice_id=invoice_id).first()
    line.amount += Decimal("10.00")
    line.save()


def _changed(line):
    line.amount = Decimal("0.01")
    return line


def _sql(sql, *params):
    with connection.cursor() as cur:
        cur.execute(sql, params)


@pytest.mark.django_db(transaction=True)
def test_admin_refuses_to_change_an_approved_invoice(approved, trial_log, client):
    inv = approved
    root = UserFactory(username="imm-root", is_staff=True, is_superuser=True)
    client.force_login(root)
    line = inv.lines.first()
    base = f"/admin/invoicing/invoice/{inv.pk}/"
    form = {
        "account": inv.account_id,
        "currency": "USD",
        "po_number": "",
        "period": "2026-01-01",
        "invoice_date": "2026-01-31",
        "due_date": "2026-03-02",
        "status": "draft",
        "number": "",
        "net": "1.00",
        "tax": "0.00",
        "total": "1.00",
        "billing_email": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-id": line.pk,
        "lines-0-invoice": inv.pk,
        "lines-0-kind": "time",
        "lines-0-description": "changed",
        "lines-0-amount": "1.00",
        "lines-0-position": "1",
        "lines-0-tax_rate": "0",
    }
    trial_log.check(
        client.get(base + "change/").status_code == 200, "admin cannot even view the invoice"
    )
    attempt(trial_log, inv.pk, "admin change form", lambda: client.post(base + "change/", form))
    attempt(
        trial_log,
        inv.pk,
        "admin delete view",
        lambda: client.post(base + "delete/", {"post": "yes"}),
    )
    for action in ("delete_selected", "approve_selected"):
        attempt(
            trial_log,
            inv.pk,
            f"admin {action} action",
            lambda action=action: client.post(
                "/admin/invoicing/invoice/",
                {"action": action, "index": 0, "_selected_action": [inv.pk], "post": "yes"},
            ),
            redirect_ok=True,
        )
    history = inv.history.order_by("history_id").first()  # the draft as first written
    attempt(
        trial_log,
        inv.pk,
        "admin history revert",
        lambda: client.post(f"{base}history/{history.history_id}/", form),
    )
    trial_log.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_api_refuses_to_change_an_approved_invoice(approved, trial_log):
    inv = approved
    line = inv.lines.first()
    admin_api = APIClient()
    admin_api.force_authenticate(UserFactory(username="imm-api", roles=["Billing admin"]))
    auditor_api = APIClient()
    auditor_api.force_authenticate(UserFactory(username="imm-aud", roles=["Auditor"]))
    url = f"/api/v1/invoices/{inv.pk}/"
    for who, api in (("billing admin", admin_api), ("auditor", auditor_api)):
        attempt(
            trial_log,
            inv.pk,
            f"API {who} PATCH",
            lambda api=api: api.patch(url, {"total": "1.00"}, format="json"),
        )
        attempt(
            trial_log,
            inv.pk,
            f"API {who} PUT",
            lambda api=api: api.put(url, {"total": "1.00", "status": "draft"}, format="json"),
        )
        attempt(trial_log, inv.pk, f"API {who} DELETE", lambda api=api: api.delete(url))
        attempt(
            trial_log,
            inv.pk,
            f"API {who} adjust line",
            lambda api=api: api.post(
                url + "adjust/",
                {"line": line.pk, "amount": "1.00", "reason": "cheaper"},
                format="json",
            ),
        )
        attempt(
            trial_log,
            inv.pk,
            f"API {who} add line",
            lambda api=api: api.post(
                url + "adjust/",
                {"description": "Extra", "amount": "10.00", "reason": "more"},
                format="json",
            ),
        )
        attempt(
            trial_log,
            inv.pk,
            f"API {who} reject",
            lambda api=api: api.post(url + "reject/", {"reason": "x"}, format="json"),
        )
        attempt(
            trial_log,
            inv.pk,
            f"API {who} approve again",
            lambda api=api: api.post(url + "approve/"),
        )
    response = admin_api.post(
        url + "adjust/", {"line": line.pk, "amount": "1.00", "reason": "cheaper"}, format="json"
    )
    trial_log.check(
        response.status_code == 409 and "draft" in response.json().get("detail", ""),
        f"adjusting an approved invoice is not a clear refusal: {response.status_code} {response.content[:200]}",
    )
    trial_log.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_read_only_admin_history_forms_cannot_write(approved, trial_log, client):
    """django-simple-history's "revert to this version" form checks only the VIEW permission and
    then saves: every read-only admin (invoices, credit notes, payments, allocations) must refuse
    that POST itself, so nothing reaches the database trigger."""
    from django.contrib import admin as django_admin
    from django.test import RequestFactory
    from simple_history.admin import SimpleHistoryAdmin

    from receivables.models import Allocation, Payment

    root = UserFactory(username="hist-root", is_staff=True, is_superuser=True)
    client.force_login(root)
    payment = Payment.objects.create(
        external_id="HIST-PAY",
        date=dt.date(2026, 2, 1),
        account=approved.account,
        amount=Decimal("10.00"),
    )
    Allocation.objects.create(
        payment=payment, invoice=approved, amount=Decimal("10.00"), date=payment.date
    )
    request = RequestFactory().get("/")
    request.user = root
    checked = []
    for model, model_admin in django_admin.site._registry.items():
        if not isinstance(model_admin, SimpleHistoryAdmin) or not hasattr(model, "history"):
            continue
        obj = model.objects.order_by("pk").first()
        if obj is None or model_admin.has_change_permission(request, obj):
            continue  # editable admins are out of scope here
        version = obj.history.order_by("history_id").first()
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{obj.pk}/history/{version.history_id}/"
        fields = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}
        form = {
            f.name: ("" if getattr(obj, f.attname) is None else getattr(obj, f.attname))
            for f in model._meta.concrete_fields
        }
        for key in ("amount", "total", "net"):
            if key in form:
                form[key] = "0.01"
        trial_log.trial()
        label = f"history form POST {model.__name__}"
        try:
            response = client.post(url, form)
            trial_log.check(
                response.status_code in (302, 403, 405) or response.status_code < 500,
                f"{label}: {response.status_code}",
            )
        except (IntegrityError, DatabaseError) as exc:
            trial_log.violation(f"{label}: reached the database ({str(exc).splitlines()[0]})")
        after = {
            f.attname: getattr(model.objects.get(pk=obj.pk), f.attname)
            for f in model._meta.concrete_fields
        }
        changed = {k for k in fields if k not in ("updated_at",) and fields[k] != after[k]}
        trial_log.check(not changed, f"{label}: changed {sorted(changed)}")
        checked.append(model.__name__)
    trial_log.notes["models"] = checked
    assert {"Invoice", "Payment", "Allocation"} <= set(checked), checked
    trial_log.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_admin_cannot_change_or_delete_an_entry_on_an_approved_invoice(approved, trial_log, client):
    """A billed hour stays as billed: the entries of an approved invoice are locked, and the
    admin refuses to edit or delete them (an import raises CHANGED_AFTER_INVOICING instead)."""
    root = UserFactory(username="entry-root", is_staff=True, is_superuser=True)
    client.force_login(root)
    entry = TimeEntry.objects.filter(billing__invoice=approved).first()
    assert entry.locked
    base = f"/admin/timesheets/timeentry/{entry.pk}/"
    form = {
        "external_id": entry.external_id,
        "date": "2026-01-05",
        "employee": entry.employee_id,
        "role": entry.role,
        "project_code": entry.project_code,
        "task": "",
        "duration_ms": 60_000,
        "billable": "on",
        "approved": "on",
        "notes": "",
        "external_number": entry.external_number or "",
    }
    attempt(
        trial_log,
        approved.pk,
        "admin change locked entry",
        lambda: client.post(base + "change/", form),
    )
    attempt(
        trial_log,
        approved.pk,
        "admin unlock entry",
        lambda: client.post(base + "change/", {**form, "locked": ""}),
    )
    attempt(
        trial_log,
        approved.pk,
        "admin delete locked entry",
        lambda: client.post(base + "delete/", {"post": "yes"}),
    )
    trial_log.assert_clean()
