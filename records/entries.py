"""The time-entry browser: every entry, filtered, newest first, with keyset pagination on
(date, id) so page 1,000 costs what page 1 costs at 800k entries (index entry_date_id). The CSV
of the filtered set walks the same keyset in bigger chunks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django import forms
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from agreements.models import Agreement
from core.exports import plain_decimal
from core.listing import DateRangeForm
from invoicing.models import EntryBilling, Invoice
from timesheets.importing.rows import COLUMNS
from timesheets.models import Employee, Flag, TimeEntry

PAGE_SIZE = 50
YES_NO = (("", "Any"), ("yes", "Yes"), ("no", "No"))
FLAG_CHOICES = (("", "Any"), ("any", "Any open flag"), ("none", "No open flag"), *Flag.Code.choices)


class EntryFilterForm(DateRangeForm):
    employee = forms.CharField(required=False, max_length=100)
    project = forms.CharField(required=False, max_length=64, label="Project code")
    customer = forms.CharField(required=False, max_length=100)
    billable = forms.ChoiceField(required=False, choices=YES_NO)
    invoiced = forms.ChoiceField(required=False, choices=YES_NO)
    flag = forms.ChoiceField(required=False, choices=FLAG_CHOICES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["employee"].widget.attrs["placeholder"] = "Employee ID or name"
        self.fields["customer"].widget.attrs["placeholder"] = "Name or Account ID"


def filtered_entries(data: dict[str, Any]) -> QuerySet[TimeEntry]:
    qs = TimeEntry.objects.all()
    employee = (data.get("employee") or "").strip()
    if employee:
        # The employees first (a small table), then their entries through entry_employee_date.
        people = Employee.objects.filter(
            Q(external_id__iexact=employee) | Q(name__icontains=employee)
        ).values("pk")
        qs = qs.filter(employee_id__in=people)
    project = (data.get("project") or "").strip()
    if project:
        # Entries store project codes as exported and are matched exactly (entry_project_date);
        # a code typed in another case is the agreement's code when one has it.
        codes = list(
            Agreement.objects.filter(project_code__iexact=project)
            .values_list("project_code", flat=True)
            .distinct()
        )
        qs = qs.filter(project_code__in=codes or [project])
    customer = (data.get("customer") or "").strip()
    if customer:
        customer_codes = Agreement.objects.filter(
            Q(account__name__icontains=customer) | Q(account__external_id__iexact=customer)
        ).values("project_code")
        qs = qs.filter(project_code__in=customer_codes)
    if data.get("date_from"):
        qs = qs.filter(date__gte=data["date_from"])
    if data.get("date_to"):
        qs = qs.filter(date__lte=data["date_to"])
    if data.get("billable"):
        qs = qs.filter(billable=data["billable"] == "yes")
    if data.get("invoiced"):
        billed = Exists(EntryBilling.objects.filter(entry=OuterRef("pk"), invoice__isnull=False))
        qs = qs.filter(billed) if data["invoiced"] == "yes" else qs.exclude(billed)
    flag = data.get("flag") or ""
    if flag:
        open_flags = Flag.objects.filter(entry=OuterRef("pk"), status=Flag.Status.OPEN)
        if flag == "any":
            qs = qs.filter(Exists(open_flags))
        elif flag == "none":
            qs = qs.exclude(Exists(open_flags))
        else:
            qs = qs.filter(
                Exists(
                    Flag.objects.filter(entry=OuterRef("pk"), code=flag).exclude(
                        status=Flag.Status.RESOLVED
                    )
                )
            )
    return qs


@dataclass(frozen=True)
class Cursor:
    date: dt.date
    pk: int

    def token(self) -> str:
        return f"{self.date.isoformat()}_{self.pk}"

    @staticmethod
    def parse(text: str | None) -> Cursor | None:
        try:
            day, pk = (text or "").split("_")
            return Cursor(dt.date.fromisoformat(day), int(pk))
        except ValueError:
            return None


class EntryInvoice(TypedDict):
    """What `entry_page` sets on each entry of the page from its billing."""

    invoice: Invoice | None
    prepaid: bool  # drawn from a prepaid block (a billing without an invoice)


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    PagedEntry = WithAnnotations[TimeEntry, EntryInvoice]


@dataclass
class EntryPage:
    entries: list[PagedEntry]
    next_cursor: Cursor | None
    first: bool


def page_queryset(
    qs: QuerySet[TimeEntry], after: Cursor | None, size: int = PAGE_SIZE
) -> QuerySet[TimeEntry]:
    """The page's main query: `size` rows plus one, newest first, after the cursor. No COUNT:
    the page says only whether there is an older page. `date <= cursor date` bounds the index
    scan on entry_date_id (the OR alone would be a filter, read from the newest entry on)."""
    if after is not None:
        qs = qs.filter(date__lte=after.date).filter(
            Q(date__lt=after.date) | Q(date=after.date, pk__lt=after.pk)
        )
    return qs.select_related("employee", "billing__invoice").order_by("-date", "-pk")[: size + 1]


def entry_page(qs: QuerySet[TimeEntry], after: Cursor | None, size: int = PAGE_SIZE) -> EntryPage:
    """Entries after the cursor in (date, id) descending order, one page, with employee,
    billing (invoice) and the page's flags: four queries whatever the table size."""
    open_flags = Flag.objects.exclude(status=Flag.Status.RESOLVED).order_by("code")
    rows = cast(
        "list[PagedEntry]",  # `invoice` and `prepaid` set below
        list(
            page_queryset(qs, after, size).prefetch_related(Prefetch("flags", queryset=open_flags))
        ),
    )
    more = len(rows) > size
    rows = rows[:size]
    for entry in rows:
        # Read once here: an entry without a billing raises on `entry.billing`, which the
        # template engine answers with a dir() of the model instance on every such row.
        billing = getattr(entry, "billing", None)
        entry.invoice = billing.invoice if billing is not None else None
        entry.prepaid = billing is not None and billing.invoice_id is None
    cursor = Cursor(rows[-1].date, rows[-1].pk) if more and rows else None
    return EntryPage(rows, cursor, after is None)


CSV_CHUNK = 2000
# SPEC 1.2's columns as export_time_entries writes them, then what the browser shows besides.
CSV_HEADER = (*COLUMNS, "source", "invoice", "open_flags")


def csv_rows(qs: QuerySet[TimeEntry]) -> Iterator[tuple[Any, ...]]:
    """Every entry of the filtered set, newest first, read in keyset chunks of CSV_CHUNK: each
    chunk is the page query (the same index scan with a limit, tests/records/test_entries_plan.py)
    after the last row of the one before, so memory holds one chunk and no query sorts or skips
    the whole table, at 800k entries as at 800."""
    after: Cursor | None = None
    while True:
        page = entry_page(qs, after, CSV_CHUNK)
        for e in page.entries:
            yield (
                e.external_id,
                e.date.isoformat(),
                e.employee.external_id,
                e.employee.name,
                e.role,
                e.project_code,
                e.task,
                plain_decimal(e.hours),
                "yes" if e.billable else "no",
                "yes" if e.approved else "no",
                e.notes,
                e.source,
                str(e.invoice) if e.invoice else ("prepaid block" if e.prepaid else ""),
                " ".join(f.code for f in e.flags.all()),
            )
        if page.next_cursor is None:
            return
        after = page.next_cursor
