"""Billing groups (one invoice per account, currency and root PO) and the run snapshot."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from agreements.models import Account, Agreement
from invoicing import generation as gen
from invoicing.selectors.common import GroupKey, period_end
from invoicing.selectors.eligibility import due_blocks, due_milestones, eligible_entry_matches


@dataclass(frozen=True)
class TreeNode:
    agreement_id: int
    parent_id: int | None
    account_id: int
    currency: str
    po_number: str
    external_id: str


class AgreementTree:
    """Every agreement's parent link (a handful of columns; agreements are few next to entries),
    with each agreement's billing group computed once."""

    def __init__(self) -> None:
        rows = Agreement.objects.values_list(
            "id", "parent_id", "account_id", "currency", "po_number", "external_id"
        )
        self.nodes = {r[0]: TreeNode(*r) for r in rows}
        self.group_of: dict[int, GroupKey] = {}
        self.members: dict[GroupKey, list[int]] = defaultdict(list)
        for a in sorted(self.nodes):
            key = GroupKey(
                self.nodes[a].account_id, self.nodes[a].currency, self.root_of(a).po_number
            )
            self.group_of[a] = key
            self.members[key].append(a)

    def root_of(self, agreement_id: int) -> TreeNode:
        node = self.nodes[agreement_id]
        seen = {node.agreement_id}
        while node.parent_id is not None and node.parent_id in self.nodes:
            node = self.nodes[node.parent_id]
            if node.agreement_id in seen:  # a cycle would be an import bug; stop, don't spin
                break
            seen.add(node.agreement_id)
        return node


def agreement_tree() -> AgreementTree:
    return AgreementTree()


@dataclass
class RunSnapshot:
    """What a run for one period would bill, read once for every group in a fixed number of
    queries: eligible entries, due milestones and blocks partitioned by group, the terms of every
    agreement involved and the accounts' billing e-mails. Each group re-checks its slice under
    the run lock (`group_inputs`), so what it writes is eligible at write time even if another
    run or a user changed something after the snapshot."""

    period: dt.date
    last_day: dt.date
    tree: AgreementTree
    groups: list[GroupKey]
    entry_ids: dict[GroupKey, list[int]]
    milestone_ids: dict[GroupKey, list[int]]
    block_ids: dict[GroupKey, list[int]]
    terms: dict[int, gen.AgreementTerms]
    billing_emails: dict[int, str]


def run_snapshot(period: dt.date, tree: AgreementTree | None = None) -> RunSnapshot:
    period = period.replace(day=1)
    last_day = period_end(period)
    tree = tree if tree is not None else agreement_tree()
    entry_ids: dict[GroupKey, list[int]] = defaultdict(list)
    milestone_ids: dict[GroupKey, list[int]] = defaultdict(list)
    block_ids: dict[GroupKey, list[int]] = defaultdict(list)
    agreement_ids: set[int] = set()
    for entry_id, match_id in eligible_entry_matches(last_day):
        entry_ids[tree.group_of[match_id]].append(entry_id)
        agreement_ids.add(match_id)
    for m, a in due_milestones(last_day).values_list("id", "agreement_id").order_by("id"):
        milestone_ids[tree.group_of[a]].append(m)
        agreement_ids.add(a)
    for a in due_blocks(last_day).values_list("id", flat=True).order_by("id"):
        block_ids[tree.group_of[a]].append(a)
        agreement_ids.add(a)
    groups = sorted(set(entry_ids) | set(milestone_ids) | set(block_ids))
    accounts = {k.account_id for k in groups}
    emails = dict(Account.objects.filter(id__in=accounts).values_list("id", "billing_email"))
    return RunSnapshot(
        period=period,
        last_day=last_day,
        tree=tree,
        groups=groups,
        entry_ids=dict(entry_ids),
        milestone_ids=dict(milestone_ids),
        block_ids=dict(block_ids),
        terms=load_terms(agreement_ids) if agreement_ids else {},
        billing_emails=emails,
    )


def billing_groups(period: dt.date, tree: AgreementTree | None = None) -> list[GroupKey]:
    """Groups with anything newly billable for the period (entries, milestones or blocks)."""
    return run_snapshot(period, tree).groups


def load_terms(agreement_ids: set[int]) -> dict[int, gen.AgreementTerms]:
    """Agreement terms with their rate cards and milestones, in three queries. `bill_block` and
    `block_drawn_minutes` are per invoice: `group_inputs` sets them."""
    agreements = Agreement.objects.filter(id__in=agreement_ids).prefetch_related(
        "role_rates", "milestones"
    )
    terms: dict[int, gen.AgreementTerms] = {}
    for a in agreements:
        milestones = tuple(
            gen.MilestoneTerm(
                milestone_id=m.id, position=m.position, name=m.name, percent=m.percent
            )
            for m in a.milestones.all()
        )
        terms[a.id] = gen.AgreementTerms(
            agreement_id=a.id,
            external_id=a.external_id,
            project_code=a.project_code,
            agreement_type=a.agreement_type,
            hourly_rate=a.hourly_rate,
            role_rates=tuple(
                gen.RoleRateTerm(role_key=r.role_key, role=r.role, rate=r.rate)
                for r in a.role_rates.all()
            ),
            billing_increment=a.billing_increment,
            payment_terms=a.payment_terms,
            tax_rate=a.tax_rate,
            hours_sold=a.hours_sold,
            amount=a.amount,
            parent_id=a.parent_id,
            milestones=milestones,
            name=a.name,
            tax_category=a.tax_category,
            tax_exemption_reason=a.tax_exemption_reason,
        )
    return terms
