"""The services manager's exception dashboard (issue 4): thin views over selectors and services."""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.dates import firm_today, period_bounds, previous_month
from core.errors import flash_outcome, form_errors_text
from core.listing import PkUrl
from core.roles import has_capability, require
from timesheets import exports, selectors, services
from timesheets.forms import (
    BacklogForm,
    BulkActionForm,
    FlagActionForm,
    FlagFilterForm,
    MonthForm,
    RunForm,
)
from timesheets.models import Flag, ReconciliationRun
from timesheets.tally import flag_tally

PAGE_SIZE = 50


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@require("flags.view")
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    form = FlagFilterForm(request.GET or None)
    filters = form.filters()
    flags = selectors.flags_filtered(filters)
    tally = flag_tally()  # a few rows kept current by PostgreSQL: no count of every flag
    summary = selectors.flag_summary(filters, tally)
    paginator = Paginator(flags, PAGE_SIZE)
    total = selectors.flag_total(filters, summary)
    if total is not None:
        paginator.count = total  # type: ignore[misc]  # the tally's figure, not a COUNT(*)
    page = paginator.get_page(request.GET.get("page"))
    detail = PkUrl("timesheets:flag_detail")  # reversed once, not a {% url %} per row
    for flag in page.object_list:
        flag.detail_url = detail(flag.pk)
    month_form = MonthForm(request.GET or None)
    month = (month_form.cleaned_data.get("month") if month_form.is_valid() else None) or (
        previous_month(firm_today())  # the last closed month: its figures no longer move
    )
    kpis = selectors.kpis(month)  # reads only: a month with no stored value says so (Refresh)
    run = selectors.latest_run()
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "summary": summary,
        "kpis": kpis,
        "month_value": month.strftime("%Y-%m"),
        "month_form": month_form,
        "run": run,
        "run_active": run is not None and run.status in ("queued", "running"),
        "run_form": RunForm(initial={"as_of": firm_today()}),
        "any_flag": bool(tally),
        "filtered": bool(
            filters.code
            or filters.customer
            or filters.agreement
            or filters.employee
            or filters.date_from
            or filters.date_to
            or filters.status != "open"
        ),
        "query": query.urlencode(),
        "sort_query": sort_query.urlencode(),
        "sort": filters.sort,
        "can_act": has_capability(request.user, "flags.act"),
        "codes": Flag.Code.choices,
        "releasable": sorted(Flag.RELEASABLE_CODES),
    }
    return render(request, "timesheets/dashboard.html", context)


@require("flags.view")
@require_GET
def flag_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        flag = selectors.flag_detail(pk)
    except Flag.DoesNotExist:
        raise Http404("No such flag") from None
    entries = Paginator(selectors.flag_entries(flag), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "timesheets/flag_detail.html",
        {
            "flag": flag,
            "page": entries,
            "history": selectors.flag_history(flag)[:50],
            "can_act": has_capability(request.user, "flags.act"),
            "can_release": flag.status == "open" and flag.code in Flag.RELEASABLE_CODES,
            "can_write_off": flag.status == "open" and flag.code in Flag.ENTRY_CODES,
            "action_form": FlagActionForm(),
            "next": request.GET.get("next", ""),
        },
    )


@require("flags.act")
@require_POST
def flag_action(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_object_or_404(Flag, pk=pk)
    form = FlagActionForm(request.POST)
    back = _next_url(request, reverse("timesheets:flag_detail", args=[pk]))
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return redirect(back)
    action = form.cleaned_data["action"]
    service = services.flag_release if action == "release" else services.flag_write_off
    flash_outcome(
        request,
        lambda: service(flag=flag, user=request.user, reason=form.cleaned_data["reason"]),
        lambda _: f"{flag.code} {flag.subject} {services.ACTION_WORDS[action]}.",
    )
    return redirect(back)


def _bulk_selection(request: HttpRequest) -> list[int]:
    """The flags a bulk action is about: the ticked ones, or every open flag matching the
    dashboard filters when "select all N matching" was chosen (`all=1`)."""
    if request.POST.get("all") == "1":
        filters = FlagFilterForm(request.POST).filters()
        return list(
            selectors.flags_filtered(filters)
            .filter(status=Flag.Status.OPEN)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    return sorted({int(v) for v in request.POST.getlist("flag") if str(v).isdigit()})


@require("flags.act")
@require_POST
def flags_bulk(request: HttpRequest) -> HttpResponse:
    """Two steps: the first POST shows what will happen to how many flags and asks; only the
    confirmed POST (same selection, same count) acts."""
    back = _next_url(request, reverse("timesheets:dashboard"))
    ids = _bulk_selection(request)
    data = request.POST.copy()
    data.setlist("flag", [str(i) for i in ids])
    form = BulkActionForm(data)
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return redirect(back)
    action = form.cleaned_data["action"]
    if request.POST.get("confirm_count") != str(len(ids)):
        if request.POST.get("confirm_count"):
            messages.error(request, "The selection changed since you confirmed it; check it again.")
        keep = [
            (k, v)
            for k, vs in request.POST.lists()
            if k not in {"csrfmiddlewaretoken", "confirm_count", "flag"}
            for v in vs
        ]
        if request.POST.get("all") != "1":
            keep += [("flag", str(i)) for i in ids]
        return render(
            request,
            "timesheets/bulk_confirm.html",
            {
                "count": len(ids),
                "action": action,
                "verb": services.ACTION_WORDS[action],
                "reason": form.cleaned_data["reason"],
                "fields": keep,
                "back": back,
                "sample": list(Flag.objects.filter(pk__in=ids[:20]).order_by("code", "subject")),
            },
        )
    flash_outcome(
        request,
        lambda: services.flags_bulk_action(
            flag_ids=ids, action=action, user=request.user, reason=form.cleaned_data["reason"]
        ),
        lambda done: (
            f"{len(done)} {'flag' if len(done) == 1 else 'flags'} {services.ACTION_WORDS[action]}."
        ),
    )
    return redirect(back)


@require("reconcile.run")
@require_POST
def reconcile_start(request: HttpRequest) -> HttpResponse:
    form = RunForm(request.POST)
    back = _next_url(request, reverse("timesheets:dashboard"))
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return redirect(back)
    as_of = form.cleaned_data.get("as_of") or firm_today()
    run = services.reconciliation_start(as_of=as_of, user=request.user)
    run.refresh_from_db()
    if run.status == ReconciliationRun.Status.DONE:
        messages.success(
            request,
            f"Reconciliation as of {run.as_of:%Y-%m-%d}: {run.opened} opened, "
            f"{run.resolved} resolved, {run.open_total} open.",
        )
    else:
        messages.info(request, f"Reconciliation as of {run.as_of:%Y-%m-%d} started.")
    return redirect(back)


@require("reconcile.run")
@require_POST
def unbilled_refresh(request: HttpRequest) -> HttpResponse:
    """Refresh on the unbilled value tile: recompute the month's stored value in the
    background (the page shows "being refreshed" until it is stored)."""
    form = MonthForm(request.POST)
    back = _next_url(request, reverse("timesheets:dashboard"))
    month = (form.cleaned_data.get("month") if form.is_valid() else None) or previous_month(
        firm_today()
    )
    services.unbilled_snapshot_request(last_day=period_bounds(month)[1])
    messages.info(request, f"The unbilled value for {month:%B %Y} is being recomputed.")
    return redirect(back)


@require("flags.view")
@require_GET
@never_cache
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(ReconciliationRun, pk=pk)
    return JsonResponse(selectors.run_progress(run))


@require("flags.view")
@require_GET
def flags_export(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status and status not in Flag.Status.values:
        status = ""
    fmt = "json" if request.GET.get("format") == "json" else "csv"
    buffer = io.StringIO()
    writer = exports.write_json if fmt == "json" else exports.write_csv
    writer(exports.flag_rows(status=status or None), buffer)
    content_type = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    response = HttpResponse(buffer.getvalue(), content_type=content_type)
    name = f"flags-{status or 'all'}-{firm_today():%Y-%m-%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require("flags.view")
@require_GET
def backlog(request: HttpRequest) -> HttpResponse:
    form = BacklogForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.backlog(
        include_delivered=bool(data.get("all")), customer=data.get("customer") or ""
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "timesheets/backlog.html",
        {"form": form, "page": page, "rows": selectors.backlog_rows(list(page.object_list))},
    )
