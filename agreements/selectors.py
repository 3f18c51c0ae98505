"""Reads for agreements: what imports compare against and what pages list."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from agreements.models import Account, Agreement, Milestone, RoleRate
from core import milestone_billing

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


def agreement_list(*, q: str = ""):
    qs = Agreement.objects.select_related("account", "parent").order_by("external_id")
    if q:
        qs = (
            qs.filter(external_id__icontains=q)
            | qs.filter(account__name__icontains=q)
            | qs.filter(project_code__icontains=q)
        )
    return qs
