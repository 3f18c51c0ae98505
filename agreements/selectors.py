"""Reads for agreements: what imports compare against and what pages list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from agreements.matching import covers_day_q
from agreements.models import Account, Agreement, Milestone, RoleRate
from core import milestone_billing
from core.dates import firm_today
from core.listing import DateRangeForm, clean_sort

CHUNK = 2000  # IN (...) lists of bounded size


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


@dataclass
class StoredAgreements:
    """The stored agreements an agreement import needs to see, loaded in a few queries."""

    by_id: dict[str, Agreement]
    project_codes: set[str]
    _signed: list[Agreement] = field(default_factory=list)
    _children: list[Agreement] = field(default_factory=list)

    def signed_outside(self, file_ids: set[str]) -> list[Agreement]:
        return [a for a in self._signed if a.external_id not in file_ids]

    def children_outside(self, file_ids: set[str]) -> list[Agreement]:
        return [a for a in self._children if a.external_id not in file_ids]

    def billed_milestones(self) -> dict[int, list[Milestone]]:
        """Billed milestones of the stored agreements (invoicing's rule, via core)."""
        out: dict[int, list[Milestone]] = {}
        pks = [a.pk for a in self.by_id.values()]
        for i in range(0, len(pks), CHUNK):
            for ms in Milestone.objects.filter(
                milestone_billing.billed_q(), agreement_id__in=pks[i : i + CHUNK]
            ).order_by("agreement_id", "position"):
                out.setdefault(ms.agreement_id, []).append(ms)
        return out


def agreements_for_import(*, ids: set[str], project_codes: set[str]) -> StoredAgreements:
    by_id: dict[str, Agreement] = {}
    for chunk in _chunks(ids):
        for a in Agreement.objects.filter(external_id__in=chunk).select_related(
            "account", "parent"
        ):
            by_id[a.external_id] = a
    signed: list[Agreement] = []
    for chunk in _chunks(project_codes):
        signed.extend(
            Agreement.objects.filter(project_code__in=chunk, stage=Agreement.Stage.SIGNED).order_by(
                "external_id"
            )
        )
    children: list[Agreement] = []
    for chunk in _chunks(ids):
        children.extend(
            Agreement.objects.filter(parent__external_id__in=chunk).select_related(
                "account", "parent"
            )
        )
    return StoredAgreements(
        by_id=by_id, project_codes=project_codes, _signed=signed, _children=children
    )


def accounts_by_external_id(ids: Iterable[str]) -> dict[str, Account]:
    out: dict[str, Account] = {}
    for chunk in _chunks(ids):
        for account in Account.objects.filter(external_id__in=chunk):
            out[account.external_id] = account
    return out


def role_rates_by_agreement(agreement_ids: list[int]) -> dict[int, list[RoleRate]]:
    out: dict[int, list[RoleRate]] = {}
    for i in range(0, len(agreement_ids), CHUNK):
        for rr in RoleRate.objects.filter(agreement_id__in=agreement_ids[i : i + CHUNK]):
            out.setdefault(rr.agreement_id, []).append(rr)
    return out


def milestones_by_agreement(agreement_ids: list[int]) -> dict[int, list[Milestone]]:
    out: dict[int, list[Milestone]] = {}
    for i in range(0, len(agreement_ids), CHUNK):
        for ms in Milestone.objects.filter(agreement_id__in=agreement_ids[i : i + CHUNK]).order_by(
            "agreement_id", "position"
        ):
            out.setdefault(ms.agreement_id, []).append(ms)
    return out


STATUS_FILTERS = (
    ("", "Any status"),
    ("active", "Active (signed, running today)"),
    ("ended", "Ended (signed, end date passed)"),
    ("upcoming", "Upcoming (signed, starts later)"),
    *Agreement.Stage.choices,
)
SORTS = {
    "agreement": ["external_id", "id"],
    "customer": ["account__name", "account__external_id", "external_id", "id"],
    "project": ["project_code", "external_id", "id"],
    "type": ["agreement_type", "external_id", "id"],
    "stage": ["stage", "external_id", "id"],
    "start": ["start_date", "external_id", "id"],
    # PostgreSQL sorts NULL (open-ended) after every date ascending and before them descending.
    "end": ["end_date", "external_id", "id"],
    "currency": ["currency", "external_id", "id"],
}
DEFAULT_SORT = "agreement"


class AgreementFilterForm(DateRangeForm):
    q = forms.CharField(required=False, label="Search", max_length=100)
    customer = forms.CharField(required=False, max_length=100)
    type = forms.ChoiceField(required=False, choices=(("", "Any type"), *Agreement.Type.choices))
    status = forms.ChoiceField(required=False, choices=STATUS_FILTERS)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date_from"].label = "Running from"
        self.fields["date_to"].label = "Running to"
        self.fields["q"].widget.attrs["placeholder"] = "Agreement, customer or project"
        self.fields["customer"].widget.attrs["placeholder"] = "Name or Account ID"


def agreement_list(data: dict[str, Any], *, today: dt.date | None = None) -> QuerySet[Agreement]:
    """Agreements matching cleaned AgreementFilterForm data, unordered. The date range keeps
    the agreements running on at least one of its days (start on or before To, end on or after
    From or open-ended)."""
    today = today or firm_today()
    qs = Agreement.objects.select_related("account", "parent")
    q = (data.get("q") or "").strip()
    if q:
        qs = qs.filter(
            Q(external_id__icontains=q)
            | Q(account__name__icontains=q)
            | Q(project_code__icontains=q)
        )
    customer = (data.get("customer") or "").strip()
    if customer:
        qs = qs.filter(
            Q(account__name__icontains=customer) | Q(account__external_id__iexact=customer)
        )
    if data.get("type"):
        qs = qs.filter(agreement_type=data["type"])
    status = data.get("status") or ""
    signed = Q(stage=Agreement.Stage.SIGNED)
    if status == "active":
        qs = qs.filter(signed, covers_day_q(today))
    elif status == "ended":
        qs = qs.filter(signed, end_date__lt=today)
    elif status == "upcoming":
        qs = qs.filter(signed, start_date__gt=today)
    elif status:
        qs = qs.filter(stage=status)
    if data.get("date_to"):
        qs = qs.filter(start_date__lte=data["date_to"])
    if data.get("date_from"):
        qs = qs.filter(Q(end_date__isnull=True) | Q(end_date__gte=data["date_from"]))
    return qs


def sorted_agreements(qs: QuerySet[Agreement], sort: str | None) -> tuple[str, QuerySet[Agreement]]:
    key, order = clean_sort(sort, SORTS, DEFAULT_SORT)
    return key, qs.order_by(*order)
