"""Reads for invoicing: what a run would bill, review lists, open amounts, exports.

The run (services.invoice_run_generate) and the preview (invoice_run_preview) both build their
pricing inputs with `group_inputs`, so what the review screen previews is what a run writes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import (
    DecimalField,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)

from agreements.matching import match_sql
from agreements.models import Account, Agreement, Milestone
from core import settlement
from core.dates import period_bounds
from invoicing import generation as gen
from invoicing.models import (
    BlockBilling,
    EntryBilling,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    MilestoneBilling,
)
from timesheets.models import Flag, TimeEntry
from timesheets.ordering import entry_key

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)
BILLED_TYPES = (Agreement.Type.TIME_AND_MATERIALS, Agreement.Type.PREPAID_HOURS)


class GroupKey(NamedTuple):
    """One invoice per (Account, Currency, PO Number of the agreement's root parent)."""

    account_id: int
    currency: str
    po_number: str


def period_end(period: dt.date) -> dt.date:
    return period_bounds(period)[1]


# --- eligibility (SPEC 3) -------------------------------------------------------------------

# The one place eligibility is written in SQL. A join of entries to their matching agreement
# (not a correlated subquery per entry: PostgreSQL would evaluate that for every unbilled entry,
# once per billing group) with anti-joins on billings and blocking flags.
_ELIGIBLE_SQL = """
SELECT e.id, e.external_id, e.external_number, e.date, e.role, e.duration_ms, a.id
FROM {entry} e
JOIN {agreement} a
  ON {match}
 AND a.agreement_type IN (%s, %s)
WHERE e.billable = %s AND e.approved = %s AND e.date <= %s
  AND NOT EXISTS (SELECT 1 FROM {billing} b WHERE b.entry_id = e.id)
  AND NOT EXISTS (
      SELECT 1 FROM {flag} f
      WHERE f.entry_id = e.id AND f.code IN ({codes}) AND f.status IN (%s, %s)
  )
  {only_ids}
ORDER BY e.id, a.id
"""


class EntryRow(NamedTuple):
    id: int
    external_id: str
    external_number: int | None
    date: dt.date
    role: str
    duration_ms: int
    match_id: int


def eligible_entry_rows(last_day: dt.date, *, entry_ids: list[int] | None = None) -> list[EntryRow]:
    """Every entry a run for the period ending `last_day` may bill: billable, approved, not yet
    billed, dated on or before `last_day`, matched to a Signed T&M or Prepaid Hours agreement
    covering its date, without an open or written-off blocking flag (a released one does not
    block). `match_id` is that agreement. `entry_ids` restricts the check to those entries (a
    group re-checking its slice under the run lock). One query."""
    if entry_ids is not None and not entry_ids:
        return []
    codes = sorted(Flag.BLOCKING_CODES)
    only_ids = ""
    params: list = [
        *BILLED_TYPES,
        True,
        True,
        last_day,
        *codes,
        Flag.Status.OPEN,
        Flag.Status.WRITTEN_OFF,
    ]
    if entry_ids is not None:
        only_ids = f"AND e.id IN ({', '.join(['%s'] * len(entry_ids))})"
        params.extend(entry_ids)
    query = _ELIGIBLE_SQL.format(
        entry=TimeEntry._meta.db_table,
        agreement=Agreement._meta.db_table,
        billing=EntryBilling._meta.db_table,
        flag=Flag._meta.db_table,
        match=match_sql("e", "a"),
        codes=", ".join(["%s"] * len(codes)),
        only_ids=only_ids,
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    result: list[EntryRow] = []
    last_id = None
    for row in rows:
        if row[0] == last_id:  # two matches cannot happen (the import refuses overlaps): first wins
            continue
        last_id = row[0]
        result.append(EntryRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6]))
    return result


def entry_billing_q(*, invoiced: bool) -> Q:
    """TimeEntry filter, for timesheets' KPI tiles through `core.entry_billing`: invoiced = billed
    on a final invoice or drawn from a prepaid block (no invoice); not invoiced = no billing, or
    only on a draft. (Rejecting a draft deletes its billings: no entry stays on a rejected one.)"""
    if invoiced:
        return Q(billing__invoice__status__in=sorted(Invoice.FINAL_STATUSES)) | Q(
            billing__isnull=False, billing__invoice__isnull=True
        )
    return Q(billing__isnull=True) | Q(billing__invoice__status=Invoice.Status.DRAFT)


def due_milestones(last_day: dt.date) -> QuerySet[Milestone]:
    """Unbilled milestones of Signed Fixed Fee agreements that are due by `last_day`."""
    return Milestone.objects.filter(
        agreement__stage=Agreement.Stage.SIGNED,
        agreement__agreement_type=Agreement.Type.FIXED_FEE,
        billing__isnull=True,
    ).filter(
        Q(due_date__isnull=False, due_date__lte=last_day)
        | Q(due_date__isnull=True, completed_on__isnull=False, completed_on__lte=last_day)
    )


def due_blocks(last_day: dt.date) -> QuerySet[Agreement]:
    """Signed Prepaid Hours agreements whose block is not billed and that started by `last_day`."""
    return Agreement.objects.filter(
        stage=Agreement.Stage.SIGNED,
        agreement_type=Agreement.Type.PREPAID_HOURS,
        start_date__lte=last_day,
        amount__isnull=False,
        block_billing__isnull=True,
    )


# --- grouping -----------------------------------------------------------------------------


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
    for row in eligible_entry_rows(last_day):
        entry_ids[tree.group_of[row.match_id]].append(row.id)
        agreement_ids.add(row.match_id)
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


# --- inputs for one invoice -----------------------------------------------------------------


@dataclass
class GroupInputs:
    key: GroupKey
    period: dt.date
    last_day: dt.date
    draft: Invoice | None
    terms: dict[int, gen.AgreementTerms]
    entries: list[gen.EntryIn]
    milestone_ids: list[int]
    extra_lines: list[gen.AmountLine]
    new_entry_ids: set[int] = field(default_factory=set)
    new_milestone_ids: set[int] = field(default_factory=set)
    new_block_ids: set[int] = field(default_factory=set)

    @property
    def has_news(self) -> bool:
        return bool(self.new_entry_ids or self.new_milestone_ids or self.new_block_ids)

    def price(self) -> gen.PricedInvoice:
        return gen.price_invoice(
            period_end=self.last_day,
            terms=self.terms,
            entries=self.entries,
            milestone_ids=self.milestone_ids,
            extra_lines=self.extra_lines,
        )


def open_draft(key: GroupKey, period: dt.date, *, lock: bool = False) -> Invoice | None:
    qs = Invoice.objects.filter(
        account_id=key.account_id,
        currency=key.currency,
        po_number=key.po_number,
        period=period,
        status=Invoice.Status.DRAFT,
    )
    if lock:
        qs = qs.select_for_update()
    return qs.first()


def _entry_in(row: dict, agreement_field: str) -> gen.EntryIn:
    number = row["external_number"]
    return gen.EntryIn(
        entry_id=row["id"],
        external_id=row["external_id"],
        external_number=int(number) if number is not None else None,
        date=row["date"],
        agreement_id=row[agreement_field],
        role=row["role"],
        duration_ms=row["duration_ms"],
    )


ENTRY_FIELDS = ("id", "external_id", "external_number", "date", "role", "duration_ms")


def group_inputs(snapshot: RunSnapshot, key: GroupKey, draft: Invoice | None) -> GroupInputs:
    """Everything `price_invoice` needs for one group: what its open draft already claims plus
    what became billable. The group's slice of the snapshot is re-checked here (the run calls
    this under its lock), so an entry, milestone or block billed or blocked since the snapshot
    is left out. A fixed number of queries whatever the number of entries; a first run with no
    draft and no prepaid agreement needs one or three."""
    period, last_day = snapshot.period, snapshot.last_day
    members = set(snapshot.tree.members.get(key, []))

    new_rows = [
        r
        for r in eligible_entry_rows(last_day, entry_ids=snapshot.entry_ids.get(key, []))
        if r.match_id in members  # an agreement moved to another group since: next run
    ]
    entries = [_entry_in(r._asdict(), "match_id") for r in new_rows]
    new_entry_ids = {r.id for r in new_rows}
    claimed_milestones: list[int] = []
    claimed_blocks: set[int] = set()
    extra: list[gen.AmountLine] = []
    if draft is not None:
        claimed = EntryBilling.objects.filter(invoice=draft).values(
            "agreement_id", *(f"entry__{f}" for f in ENTRY_FIELDS)
        )
        for r in claimed:
            entries.append(
                _entry_in({f: r[f"entry__{f}"] for f in ENTRY_FIELDS} | r, "agreement_id")
            )
        claimed_milestones = list(
            MilestoneBilling.objects.filter(invoice=draft).values_list("milestone_id", flat=True)
        )
        claimed_blocks = set(
            BlockBilling.objects.filter(invoice=draft).values_list("agreement_id", flat=True)
        )
        extra = [
            gen.AmountLine(amount=a, tax_rate=t)
            for a, t in draft.lines.filter(kind=InvoiceLine.Kind.ADJUSTMENT).values_list(
                "amount", "tax_rate"
            )
        ]

    new_milestones: list[tuple[int, int]] = []
    if snapshot.milestone_ids.get(key):
        new_milestones = list(
            due_milestones(last_day)
            .filter(id__in=snapshot.milestone_ids[key], agreement_id__in=members)
            .values_list("id", "agreement_id")
        )
    new_blocks: set[int] = set()
    if snapshot.block_ids.get(key):
        new_blocks = set(
            due_blocks(last_day)
            .filter(id__in=snapshot.block_ids[key])
            .filter(id__in=members)
            .values_list("id", flat=True)
        )

    used = {e.agreement_id for e in entries} | {a for _, a in new_milestones} | new_blocks
    used |= claimed_blocks
    if claimed_milestones:
        used |= set(
            Milestone.objects.filter(id__in=claimed_milestones).values_list(
                "agreement_id", flat=True
            )
        )
    base = {a: snapshot.terms[a] for a in used if a in snapshot.terms}
    missing = used - set(base)
    if missing:  # only agreements a draft claims that nothing new bills
        base |= load_terms(missing)
    # Prepaid drawdown is read here, under the lock, not in the snapshot: a concurrent run of
    # another period may have drawn from the same block since.
    prepaid = {a for a, t in base.items() if t.agreement_type == gen.PREPAID_HOURS}
    drawn: dict[int, int] = {}
    if prepaid:
        drawn_qs = EntryBilling.objects.filter(agreement_id__in=prepaid, block_minutes__gt=0)
        if draft is not None:
            drawn_qs = drawn_qs.exclude(invoice_id=draft.pk)  # null invoice rows stay counted
        drawn = dict(
            drawn_qs.values("agreement_id")
            .annotate(m=Sum("block_minutes"))
            .values_list("agreement_id", "m")
        )
    bill_block = new_blocks | claimed_blocks
    terms = {
        a: replace(t, bill_block=a in bill_block, block_drawn_minutes=int(drawn.get(a) or 0))
        for a, t in base.items()
    }
    milestone_ids = claimed_milestones + [m for m, _ in new_milestones]
    return GroupInputs(
        key=key,
        period=period,
        last_day=last_day,
        draft=draft,
        terms=terms,
        entries=entries,
        milestone_ids=milestone_ids,
        extra_lines=extra,
        new_entry_ids=new_entry_ids,
        new_milestone_ids={m for m, _ in new_milestones},
        new_block_ids=new_blocks,
    )


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


@dataclass(frozen=True)
class PreviewInvoice:
    key: GroupKey
    draft_id: int | None
    priced: gen.PricedInvoice


def invoice_run_preview(*, period: dt.date) -> list[PreviewInvoice]:
    """What a run for `period` would write now (without first refreshing the flags)."""
    snapshot = run_snapshot(period)
    result = []
    for key in snapshot.groups:
        draft = open_draft(key, snapshot.period)
        inputs = group_inputs(snapshot, key, draft)
        if not inputs.has_news:
            continue
        priced = inputs.price()
        if priced.lines:
            result.append(
                PreviewInvoice(key=key, draft_id=draft.pk if draft else None, priced=priced)
            )
    return result


# --- review screen --------------------------------------------------------------------------


def invoices_for_period(period: dt.date, statuses: list[str]) -> QuerySet[Invoice]:
    return settlement.annotate(
        Invoice.objects.filter(period=period.replace(day=1), status__in=statuses)
        .select_related("account", "adjusted_by", "approved_by")
        .order_by("account__name", "account__external_id", "currency", "po_number", "id")
    )


def flagged_entries(invoice_ids: list[int]) -> dict[int, list[Flag]]:
    """invoice id -> flags (not resolved) on the entries it bills: warnings for the reviewer,
    e.g. entries released over a cap."""
    flags = (
        Flag.objects.filter(entry__billing__invoice_id__in=invoice_ids)
        .exclude(status=Flag.Status.RESOLVED)
        .annotate(invoice_id=F("entry__billing__invoice_id"))
        .order_by("code", "subject")
    )
    result: dict[int, list[Flag]] = defaultdict(list)
    for f in flags:
        result[f.invoice_id].append(f)
    return result


def invoice_with_lines(pk: int) -> Invoice:
    return (
        settlement.annotate(Invoice.objects.filter(pk=pk))
        .select_related("account", "adjusted_by", "approved_by", "rejected_by")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related(
                    "agreement", "adjusted_by"
                ).prefetch_related(
                    Prefetch(
                        "entry_billings",
                        queryset=EntryBilling.objects.select_related("entry__employee").order_by(
                            "entry__date", "entry__external_id"
                        ),
                    )
                ),
            ),
            "credit_notes",
        )
        .get()
    )


def latest_run(period: dt.date) -> InvoiceRun | None:
    return (
        InvoiceRun.objects.filter(period=period.replace(day=1))
        .order_by("-created_at", "-id")
        .first()
    )


# --- export -----------------------------------------------------------------------------------


def invoices_for_export(status: str | None = None) -> QuerySet[Invoice]:
    """Every invoice with its lines and entry IDs, in a fixed number of queries."""
    qs = Invoice.objects.all()
    if status:
        qs = qs.filter(status=status)
    return (
        settlement.annotate(qs)
        .select_related("account")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related("agreement").prefetch_related(
                    Prefetch(
                        "entry_billings",
                        queryset=EntryBilling.objects.select_related("entry").only(
                            "id",
                            "line_id",
                            "entry__external_id",
                            "entry__external_number",
                            "entry__date",
                        ),
                    )
                ),
            ),
            Prefetch(
                "entry_billings",
                queryset=EntryBilling.objects.select_related("entry").only(
                    "id",
                    "invoice_id",
                    "entry__external_id",
                    "entry__external_number",
                    "entry__date",
                ),
            ),
        )
        .order_by("id")
    )


def _entry_sort_key(eb: EntryBilling) -> tuple:
    e = eb.entry
    return entry_key(e.date, e.external_id, e.external_number)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else f"{value}"


def invoice_export_rows(status: str | None = None) -> list[dict]:
    """SPEC 5 `export_invoices`: every invoice with its lines and entry IDs; decimals as strings.
    A fixed number of queries whatever the number of invoices (prefetch)."""
    rows = []
    for inv in invoices_for_export(status):
        lines = []
        for line in inv.lines.all():
            timed = line.kind in (InvoiceLine.Kind.TIME,)
            lines.append(
                {
                    "agreement_id": line.agreement.external_id if line.agreement else None,
                    "description": line.description,
                    "role": line.role,
                    "hours": _dec(line.hours) if timed else None,
                    "rate": _dec(line.rate) if timed else None,
                    "amount": _dec(line.amount),
                    "tax_rate": _dec(line.tax_rate),
                    "entry_ids": [
                        eb.entry.external_id
                        for eb in sorted(line.entry_billings.all(), key=_entry_sort_key)
                    ],
                }
            )
        rows.append(
            {
                "id": inv.pk,
                "number": inv.number,
                "status": inv.status,
                "account_id": inv.account.external_id,
                "currency": inv.currency,
                "po_number": inv.po_number,
                "period": f"{inv.period:%Y-%m}",
                "invoice_date": inv.invoice_date.isoformat(),
                "due_date": inv.due_date.isoformat(),
                "net": _dec(inv.net),
                "tax": _dec(inv.tax),
                "total": _dec(inv.total),
                "open_amount": _dec(inv.open_amount),
                "lines": lines,
                "entry_ids": [
                    eb.entry.external_id
                    for eb in sorted(inv.entry_billings.all(), key=_entry_sort_key)
                ],
            }
        )
    return rows
