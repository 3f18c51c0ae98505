"""Reads for the exception dashboard: flags, drill-down, backlog, KPIs, runs (SPEC 2, issue 4).

Everything here is a set-based query; nothing loops over entries in Python. Whether an entry is
invoiced is invoicing's rule, read through `core.entry_billing` (never by importing the invoicing
package or reading its tables through lookup strings: apps depend one way).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from agreements.matching import covered_entries_q
from agreements.models import Agreement
from core import entry_billing
from timesheets.models import (
    MS_PER_HOUR,
    Flag,
    ReconciliationRun,
    TimeEntry,
    UnbilledValueSnapshot,
)
from timesheets.ordering import entry_id_order_by, entry_order_by
from timesheets.tally import Tally

# Sort keys offered on the dashboard -> ORM ordering. Subject sorts Entry IDs numerically first.
# `subject_number` is the entry's external_number on entry flags (a generated column), so the
# default sort reads index flag_status_code_number without joining the entries.
FLAG_SORTS: dict[str, list[Any]] = {
    "code": ["code", F("subject_number").asc(nulls_last=True), "subject"],
    "subject": [F("subject_number").asc(nulls_last=True), "subject"],
    "status": ["status", "code", F("subject_number").asc(nulls_last=True), "subject"],
    "day": [F("day").asc(nulls_last=True), "code", "subject"],
    "hours": [F("hours").asc(nulls_last=True), "code", "subject"],
    "project": ["project_code", "code", "subject"],
    "agreement": [F("agreement__external_id").asc(nulls_last=True), "code", "subject"],
    "employee": [F("employee__external_id").asc(nulls_last=True), "code", "subject"],
    "raised": ["raised_at", "id"],
}


def _descending(order: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in order:
        if isinstance(item, str):
            out.append(item[1:] if item.startswith("-") else f"-{item}")
        else:  # OrderBy
            out.append(F(item.expression.name).desc(nulls_last=True))
    return out


@dataclass
class FlagFilters:
    status: str = "open"  # "" = every status
    code: str = ""
    customer: str = ""  # Account ID or part of the name
    agreement: str = ""  # Agreement ID
    employee: str = ""  # Employee ID or part of the name
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "code"


def flags_filtered(filters: FlagFilters) -> QuerySet[Flag]:
    """Flags matching the dashboard filters, sorted. Dates filter the day the flag is about (the
    entry's Date, the EXCESSIVE_DAILY_HOURS day, an agreement flag's start or end date)."""
    qs = Flag.objects.select_related("agreement__account", "employee", "actioned_by")
    qs = _filter(qs, filters)
    key = filters.sort.lstrip("-")
    order = FLAG_SORTS.get(key, FLAG_SORTS["code"])
    if filters.sort.startswith("-") and key in FLAG_SORTS:
        order = _descending(order)
    return qs.order_by(*order, "id")


def _filter(qs: QuerySet[Flag], f: FlagFilters) -> QuerySet[Flag]:
    if f.status:
        qs = qs.filter(status=f.status)
    if f.code:
        qs = qs.filter(code=f.code)
    if f.customer:
        term = f.customer.strip()
        qs = qs.filter(
            Q(agreement__account__external_id__iexact=term)
            | Q(agreement__account__name__icontains=term)
        )
    if f.agreement:
        qs = qs.filter(agreement__external_id__iexact=f.agreement.strip())
    if f.employee:
        term = f.employee.strip()
        qs = qs.filter(
            Q(employee__external_id__iexact=term)
            | Q(employee__name__icontains=term)
            | Q(entry__employee__external_id__iexact=term)
        )
    if f.date_from:
        qs = qs.filter(Q(day__gte=f.date_from) | Q(day__isnull=True, entry__date__gte=f.date_from))
    if f.date_to:
        qs = qs.filter(Q(day__lte=f.date_to) | Q(day__isnull=True, entry__date__lte=f.date_to))
    return qs


def _plain(filters: FlagFilters) -> bool:
    """Only status and code filter: the tally has the answer (timesheets.tally)."""
    f = filters
    return not (f.customer or f.agreement or f.employee or f.date_from or f.date_to)


def flag_summary(filters: FlagFilters, tally: Tally | None = None) -> list[dict[str, Any]]:
    """Counts and hours by code for the filtered flags (ignoring the code filter, so every code
    stays clickable), in code order; codes with no flags are left out. With only a status
    filter the figures are the tally's (kept current by PostgreSQL), not a count of every flag."""
    if tally is not None and _plain(filters):
        by_code: dict[str, tuple[int, Decimal]] = {}
        for (status, code), (count, hours) in tally.items():
            if not filters.status or status == filters.status:
                n, h = by_code.get(code, (0, Decimal("0")))
                by_code[code] = (n + count, h + hours)
        return [
            {"code": code, "count": n, "hours": h} for code, (n, h) in sorted(by_code.items()) if n
        ]
    base = FlagFilters(**{**filters.__dict__, "code": "", "sort": "code"})
    rows = (
        _filter(Flag.objects.all(), base)
        .values("code")
        .annotate(count=Count("id"), hours=Sum("hours"))
        .order_by("code")
    )
    return [
        {"code": r["code"], "count": r["count"], "hours": r["hours"] or Decimal("0")} for r in rows
    ]


def flag_total(filters: FlagFilters, summary: list[dict[str, Any]]) -> int | None:
    """The number of flags the filters match, from the tally's summary when it has it (else
    None: the paginator counts)."""
    if not _plain(filters):
        return None
    return sum(r["count"] for r in summary if not filters.code or r["code"] == filters.code)


def flag_detail(pk: int) -> Flag:
    return Flag.objects.select_related(
        "entry__employee", "agreement__account", "employee", "actioned_by"
    ).get(pk=pk)


def flag_entries(flag: Flag) -> QuerySet[TimeEntry]:
    """The entries behind a flag (drill-down): the entry itself; the employee's entries that day;
    the agreement's covered entries for agreement flags (SPEC 2 matching); in SPEC 5's order."""
    qs = TimeEntry.objects.select_related("employee")
    if flag.entry_id:
        return qs.filter(pk=flag.entry_id)
    if flag.code == Flag.Code.EXCESSIVE_DAILY_HOURS and flag.employee_id and flag.day:
        day = qs.filter(employee_id=flag.employee_id, date=flag.day)
        return day.order_by(*entry_id_order_by())
    if flag.agreement is not None:
        a = flag.agreement
        covered = covered_entries_q(
            project_code=a.project_code, start_date=a.start_date, end_date=a.end_date
        )
        return qs.filter(covered).order_by(*entry_order_by())
    return qs.none()


def flag_history(flag: Flag) -> QuerySet[Any]:
    return flag.history.select_related("history_user").order_by("-history_date", "-history_id")


def flags_for_export(*, status: str | None = None) -> Any:
    qs = Flag.objects.order_by("code", "subject")
    if status:
        qs = qs.filter(status=status)
    return qs.values(
        "code", "status", "subject", "agreement__external_id", "project_code", "hours", "detail"
    ).iterator(chunk_size=5000)


# -- runs -------------------------------------------------------------------------------------


def latest_run() -> ReconciliationRun | None:
    return ReconciliationRun.objects.select_related("started_by").order_by("-created_at").first()


def run_progress(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "as_of": run.as_of.isoformat(),
        "status": run.status,
        "step": run.step,
        "steps_done": run.steps_done,
        "steps_total": run.steps_total,
        "opened": run.opened,
        "resolved": run.resolved,
        "open_total": run.open_total,
        "error": run.error,
        "finished": run.status in (ReconciliationRun.Status.DONE, ReconciliationRun.Status.FAILED),
    }


# -- backlog ----------------------------------------------------------------------------------


def _matched_entries() -> QuerySet[TimeEntry]:
    """Entries matching the agreement of the outer query (SPEC 2 matching)."""
    return TimeEntry.objects.filter(
        covered_entries_q(
            project_code=OuterRef("project_code"),
            start_date=OuterRef("start_date"),
            end_date=OuterRef("end_date"),
        )
    )


def backlog(*, include_delivered: bool = False, customer: str = "") -> QuerySet[Agreement]:
    """Signed agreements with Hours Sold: hours sold, delivered (raw hours of all matched
    entries), remaining (never below 0), percent delivered. Sold-not-delivered first."""
    delivered_ms = Subquery(
        _matched_entries()
        .order_by()
        .values("project_code")
        .annotate(total=Sum("duration_ms"))
        .values("total")[:1],
        output_field=IntegerField(),
    )
    qs = (
        Agreement.objects.filter(stage=Agreement.Stage.SIGNED, hours_sold__gt=0)
        .select_related("account")
        .annotate(delivered_ms=Coalesce(delivered_ms, Value(0)))
    )
    if not include_delivered:
        sold_ms = ExpressionWrapper(
            F("hours_sold") * MS_PER_HOUR,
            output_field=DecimalField(max_digits=20, decimal_places=2),
        )
        qs = qs.filter(delivered_ms__lt=sold_ms)
    if customer:
        qs = qs.filter(
            Q(account__external_id__iexact=customer.strip())
            | Q(account__name__icontains=customer.strip())
        )
    return qs.order_by(F("end_date").asc(nulls_last=True), "external_id")


@dataclass(frozen=True)
class BacklogRow:
    agreement: Agreement
    sold: Decimal
    delivered: Decimal
    remaining: Decimal
    percent: Decimal


def backlog_rows(agreements: list[Agreement]) -> list[BacklogRow]:
    """Per-agreement figures for one page of `backlog()` (arithmetic on Decimals, no queries)."""
    rows = []
    for a in agreements:
        sold = a.hours_sold or Decimal("0")
        delivered_ms: int = a.delivered_ms  # type: ignore[attr-defined]  # annotated by backlog()
        delivered = (Decimal(delivered_ms) / MS_PER_HOUR).quantize(Decimal("0.01"))
        remaining = max(sold - delivered, Decimal("0.00"))
        percent = (delivered * 100 / sold).quantize(Decimal("0.1")) if sold else Decimal("0")
        rows.append(BacklogRow(a, sold, delivered, remaining, percent))
    return rows


# -- KPIs -------------------------------------------------------------------------------------


def working_days(first: dt.date, last: dt.date) -> int:
    """Monday to Friday between two dates, inclusive (no holiday calendar)."""
    days = (last - first).days + 1
    weeks, extra = divmod(days, 7)
    count = weeks * 5
    for i in range(extra):
        if (first + dt.timedelta(days=weeks * 7 + i)).weekday() < 5:
            count += 1
    return count


@dataclass
class Kpis:
    month: dt.date
    total_hours: Decimal = Decimal("0")
    billable_hours: Decimal = Decimal("0")
    billable_percent: Decimal | None = None
    employees: int = 0
    working_days: int = 0
    capacity_hours: Decimal = Decimal("0")
    utilization_percent: Decimal | None = None
    entered_hours: Decimal = Decimal("0")  # billable hours entered
    invoiced_hours: Decimal = Decimal("0")
    written_off_hours: Decimal = Decimal("0")
    pending_hours: Decimal = Decimal("0")
    unbilled: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount, as stored
    unbilled_as_of: dt.datetime | None = None  # None: not computed yet
    unbilled_refreshing: bool = False  # a refresh asked for on the page (Refresh) is pending


def _written_off_entries() -> QuerySet[Flag, Any]:
    """Entry ids that will never be billed: a written-off flag (CHANGED_AFTER_INVOICING aside,
    whose entry is already billed)."""
    return (
        Flag.objects.filter(status=Flag.Status.WRITTEN_OFF, entry__isnull=False)
        .exclude(code=Flag.Code.CHANGED_AFTER_INVOICING)
        .values("entry_id")
    )


def _hours(ms: int | None) -> Decimal:
    return (Decimal(ms or 0) / MS_PER_HOUR).quantize(Decimal("0.01"))


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"))


def kpis(month: dt.date) -> Kpis:
    """KPI tiles for the calendar month containing `month` (entries dated in it):

    - billable % = billable hours / all hours;
    - utilization = billable hours / (BILLING_CAPACITY_HOURS_PER_DAY x working days x employees
      with time that month);
    - hours: billable entered vs invoiced (on an approved/sent/paid invoice, or drawn from a
      prepaid block) vs written off (a written-off flag other than CHANGED_AFTER_INVOICING);
      pending = the rest;
    - unbilled value: what a run for the month would bill for time (invoicing's eligibility
      and pricing through core.entry_billing): eligible entries dated on or before its last day
      (earlier months' leftovers too; not entries already on a draft), Time & Materials and
      prepaid overage lines. Read as stored (`UnbilledValueSnapshot`, computed in the
      background by `services.unbilled_snapshot_refresh`), never priced here: pricing every
      unbilled group takes a minute at a firm's scale (issue 16).
    """
    first = month.replace(day=1)
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    entries = TimeEntry.objects.filter(date__gte=first, date__lte=last)
    totals = entries.aggregate(
        total=Sum("duration_ms"),
        billable=Sum("duration_ms", filter=Q(billable=True)),
        employees=Count("employee", distinct=True),
    )
    k = Kpis(month=first)
    k.total_hours = _hours(totals["total"])
    k.billable_hours = _hours(totals["billable"])
    k.billable_percent = _percent(k.billable_hours, k.total_hours)
    k.employees = totals["employees"] or 0
    k.working_days = working_days(first, last)
    k.capacity_hours = Decimal(
        settings.BILLING_CAPACITY_HOURS_PER_DAY * k.working_days * k.employees
    )
    k.utilization_percent = _percent(k.billable_hours, k.capacity_hours)
    _stored_unbilled(k, last)
    if not totals["billable"]:  # no billable time that month: nothing of it invoiced
        return k

    billable = entries.filter(billable=True)
    invoiced = entry_billing.invoiced_q()
    written_off = Q(pk__in=_written_off_entries())
    split = billable.aggregate(
        entered=Sum("duration_ms"),
        invoiced=Sum("duration_ms", filter=invoiced),
        written_off=Sum("duration_ms", filter=written_off),
    )
    k.entered_hours = _hours(split["entered"])
    k.invoiced_hours = _hours(split["invoiced"])
    k.written_off_hours = _hours(split["written_off"])
    k.pending_hours = k.entered_hours - k.invoiced_hours - k.written_off_hours
    return k


def _stored_unbilled(k: Kpis, last_day: dt.date) -> None:
    row = UnbilledValueSnapshot.objects.filter(last_day=last_day).first()
    if row is None:
        return
    k.unbilled, k.unbilled_as_of = row.totals, row.as_of
    k.unbilled_refreshing = bool(
        row.requested_at and (row.as_of is None or row.requested_at > row.as_of)
    )


def unbilled_value(last_day: dt.date) -> dict[str, Decimal]:
    """Currency -> value of the time a run for the period ending `last_day` would bill now: the
    entries eligible for billing (invoicing's rule, dated on or before `last_day`, earlier
    months' leftovers included) priced as the run prices them, computed now (the refresh of
    the stored value calls it; the page reads the stored value, see `kpis`)."""
    return entry_billing.unbilled_value(last_day)
