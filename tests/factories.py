"""factory_boy factories for every model. Deterministic: sequences, fixed dates, no random money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from agreements.models import Account, Agreement, Milestone, RoleRate
from agreements.pricing import role_key
from invoicing.models import CreditNote, Invoice, InvoiceLine, InvoiceRun
from receivables.models import Allocation, Payment
from timesheets.models import Employee, Flag, TimeEntry


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@firm.example")
    password = factory.PostGenerationMethodCall("set_password", "pw-Billable-2026")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for name in extracted:
                self.groups.add(Group.objects.get(name=name))
        if create:
            self.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("external_id",)

    external_id = factory.Sequence(lambda n: f"ACC-{n:04d}")
    name = factory.Sequence(lambda n: f"Customer {n:04d} Ltd")
    billing_email = factory.LazyAttribute(lambda a: f"ap@{a.external_id.lower()}.example")


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    external_id = factory.Sequence(lambda n: f"AGR-{n:05d}")
    account = factory.SubFactory(AccountFactory)
    project_code = factory.Sequence(lambda n: f"PRJ-{n:05d}")
    agreement_type = Agreement.Type.TIME_AND_MATERIALS
    stage = Agreement.Stage.SIGNED
    start_date = dt.date(2026, 1, 1)
    end_date = None
    hourly_rate = Decimal("150.00")
    billing_increment = 15
    currency = "USD"
    payment_terms = 30
    tax_rate = Decimal("0")


class RoleRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleRate

    agreement = factory.SubFactory(AgreementFactory)
    role = "Engineer"
    role_key = factory.LazyAttribute(lambda r: role_key(r.role))
    rate = Decimal("175.00")


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    agreement = factory.SubFactory(
        AgreementFactory,
        agreement_type=Agreement.Type.FIXED_FEE,
        amount=Decimal("10000.00"),
        hourly_rate=None,
    )
    position = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Milestone {n}")
    percent = Decimal("100")
    due_date = dt.date(2026, 1, 1)


class EmployeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employee
        django_get_or_create = ("external_id",)

    external_id = factory.Sequence(lambda n: f"E{n:04d}")
    name = factory.Sequence(lambda n: f"Employee {n:04d}")


class TimeEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeEntry

    external_id = factory.Sequence(lambda n: str(100000 + n))
    external_number = factory.LazyAttribute(
        lambda e: Decimal(e.external_id) if e.external_id.isdigit() else None
    )
    date = dt.date(2026, 1, 15)
    employee = factory.SubFactory(EmployeeFactory)
    role = "Engineer"
    project_code = "PRJ-00000"
    duration_ms = 3_600_000
    billable = True
    approved = True
    notes = ""


class FlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flag

    code = Flag.Code.NO_AGREEMENT
    entry = factory.SubFactory(TimeEntryFactory)
    subject = factory.LazyAttribute(lambda f: f.entry.external_id)
    project_code = factory.LazyAttribute(lambda f: f.entry.project_code)
    detail = "No agreement of any stage has this project code."


class InvoiceRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceRun

    period = dt.date(2026, 1, 1)


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    account = factory.SubFactory(AccountFactory)
    currency = "USD"
    period = dt.date(2026, 1, 1)
    invoice_date = dt.date(2026, 1, 31)
    due_date = dt.date(2026, 3, 2)
    net = Decimal("1000.00")
    tax = Decimal("0.00")
    total = Decimal("1000.00")
    billing_email = factory.LazyAttribute(lambda i: i.account.billing_email)


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    kind = InvoiceLine.Kind.TIME
    description = "Consulting"
    minutes = 400
    hours = Decimal("6.67")
    rate = Decimal("150.00")
    amount = Decimal("1000.00")


class CreditNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditNote

    invoice = factory.SubFactory(InvoiceFactory)
    number = factory.Sequence(lambda n: f"CN-2026-{n + 1:05d}")
    number_year = 2026
    number_seq = factory.Sequence(lambda n: n + 1)
    date = dt.date(2026, 2, 10)
    amount = Decimal("100.00")
    currency = "USD"
    reason = "Goodwill"


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    external_id = factory.Sequence(lambda n: f"PAY-{n:05d}")
    date = dt.date(2026, 2, 15)
    account = factory.SubFactory(AccountFactory)
    amount = Decimal("500.00")
    currency = "USD"


class AllocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Allocation

    payment = factory.SubFactory(PaymentFactory)
    invoice = factory.SubFactory(InvoiceFactory)
    amount = Decimal("500.00")
    date = factory.LazyAttribute(lambda a: a.payment.date)
