"""Query counts stay flat on the record pages (issue 15): the customer page, the agreement page,
the portal contacts list and the import history cost the same queries with 3 of each row as with
30 (every row kind a page lists grows: nothing is fetched one row at a time)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from agreements.models import Agreement
from core import roles
from core.models import ImportRecord, SentMail
from portal.models import Contact, PortalAccount
from receivables.models import Reminder
from receivables.services import payment_record
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    CreditNoteFactory,
    EmployeeFactory,
    FlagFactory,
    MilestoneFactory,
    RoleRateFactory,
    TimeEntryFactory,
    UserFactory,
)
from tests.screens.helpers import queries_of
from tests.world import invoice_with_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def everyone(db):
    """One user holding every role, so each page shows every section it has."""
    return UserFactory(
        username="all.roles",
        roles=[roles.BILLING_ADMIN, roles.FINANCE, roles.SERVICES_MANAGER, roles.AUDITOR],
    )


def _grow_customer(account, agreement, start: int, count: int, user) -> None:
    for n in range(start, start + count):
        AgreementFactory(account=account, external_id=f"AGR-C{n:03d}", parent=agreement)
        invoice = invoice_with_lines(
            account, ["1000.00", "500.00"], agreement=agreement, due=dt.date(2026, 2, 1)
        )
        CreditNoteFactory(invoice=invoice, amount=Decimal("10.00"), created_by=user)
        Reminder.objects.create(invoice=invoice, level=7, sent_on=dt.date(2026, 2, 8))
        SentMail.objects.create(
            kind="reminder",
            level=7,
            object_id=invoice.pk,
            account_id=account.pk,
            invoice_id=invoice.pk,
            to=[account.billing_email],
            subject=f"Reminder {n}",
            body="Please pay.",
            sent_by=user,
            sent_at=timezone.now(),
        )
        payment_record(
            account=account,
            date=dt.date(2026, 3, 1),
            amount=Decimal("2000.00"),
            currency="USD",
            user=user,
        )


def test_customer_page_costs_the_same_for_3_and_30_of_each_row(client_for, everyone):
    client = client_for(everyone)
    account = AccountFactory(external_id="ACC-Q", name="Query Corp")
    parent = AgreementFactory(account=account, external_id="AGR-QP")
    url = f"/customers/{account.pk}/"
    _grow_customer(account, parent, 1, 3, everyone)
    small = queries_of(client, url)
    _grow_customer(account, parent, 4, 27, everyone)
    large = queries_of(client, url)
    page = client.get(url).content.decode()
    assert "AGR-C030" in page and "Reminder 30" in page  # the rows really are on the page
    assert large == small


def _grow_agreement(fixed, hourly, start: int, count: int) -> None:
    for n in range(start, start + count):
        MilestoneFactory(
            agreement=fixed, position=n, name=f"Step {n}", percent=Decimal("1"), due_date=None
        )
        RoleRateFactory(agreement=hourly, role=f"Role {n}", rate=Decimal("100.00") + n)
        AgreementFactory(account=hourly.account, external_id=f"AGR-K{n:03d}", parent=hourly)
        entry = TimeEntryFactory(
            project_code=hourly.project_code,
            date=dt.date(2026, 1, 1) + dt.timedelta(days=31 * (n % 12)),
            employee=EmployeeFactory(external_id=f"EQ{n:03d}"),
        )
        FlagFactory(
            entry=entry,
            agreement=hourly,
            code="OVER_CAP",
            detail=f"Over the cap {n}",
            actioned_by=None,
        )
        invoice_with_lines(hourly.account, ["100.00"], agreement=hourly)


def test_agreement_page_costs_the_same_for_3_and_30_of_each_row(client_for, everyone):
    client = client_for(everyone)
    account = AccountFactory(external_id="ACC-A")
    fixed = AgreementFactory(
        account=account,
        external_id="AGR-FIX",
        agreement_type=Agreement.Type.FIXED_FEE,
        amount=Decimal("50000.00"),
        hourly_rate=None,
    )
    hourly = AgreementFactory(account=account, external_id="AGR-TM", not_to_exceed_hours=40)
    _grow_agreement(fixed, hourly, 1, 3)
    small = {a.external_id: queries_of(client, f"/agreements/{a.pk}/") for a in (fixed, hourly)}
    _grow_agreement(fixed, hourly, 4, 27)
    large = {a.external_id: queries_of(client, f"/agreements/{a.pk}/") for a in (fixed, hourly)}
    page = client.get(f"/agreements/{hourly.pk}/").content.decode()
    assert "Role 30" in page and "AGR-K030" in page
    assert "Step 30" in client.get(f"/agreements/{fixed.pk}/").content.decode()
    assert large == small


def _grow_contacts(start: int, count: int, user) -> None:
    for n in range(start, start + count):
        account = AccountFactory(external_id=f"ACC-P{n:03d}", name=f"Portal {n:03d}")
        PortalAccount.objects.create(account=account, show_entries=n % 2 == 0)
        for k in range(2):
            Contact.objects.create(
                account=account,
                email=f"c{k}@p{n}.example",
                name=f"Contact {n}-{k}",
                invited_by=user,
                invited_at=timezone.now(),
                revoked_at=timezone.now() if k else None,
                revoked_by=user if k else None,
            )


def test_portal_contacts_list_costs_the_same_for_3_and_25_accounts(client_for, everyone):
    client = client_for(everyone)
    _grow_contacts(1, 3, everyone)
    small = queries_of(client, "/contacts/")
    _grow_contacts(4, 22, everyone)  # 50 contacts: one full page
    large = queries_of(client, "/contacts/")
    assert "c1@p25.example" in client.get("/contacts/").content.decode()
    assert large == small


def _grow_imports(start: int, count: int, user) -> None:
    for n in range(start, start + count):
        for kind in ImportRecord.Kind.values:
            ImportRecord.objects.create(
                kind=kind,
                source="csv",
                user=user,
                file_name=f"{kind}-{n}.csv",
                sha256=f"{n:064d}",
                created=n,
                status=ImportRecord.Status.UNDONE if n % 3 == 0 else ImportRecord.Status.DONE,
                undone_by=user if n % 3 == 0 else None,
                undone_at=timezone.now() if n % 3 == 0 else None,
                created_at=timezone.now(),
            )


def test_import_history_costs_the_same_for_3_and_48_imports(client_for, everyone):
    client = client_for(everyone)
    _grow_imports(1, 1, everyone)
    small = queries_of(client, "/imports/")
    _grow_imports(2, 15, everyone)  # 48 imports: one page
    large = queries_of(client, "/imports/")
    assert "payments-16.csv" in client.get("/imports/").content.decode()
    assert large == small
