"""The in-app audit view over django-simple-history tables: who changed what, when, field by
field. Read-only. Each kind of record is shown only to roles that may read it; a page costs a
fixed number of queries (at most two per history table: its newest rows by the indexes of
records/migrations/0001, then the previous versions of the rows the page shows)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import IntegerField, Model, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from agreements.models import Account, Agreement, Milestone, RoleRate
from core.listing import DateRangeForm, PkUrl
from core.roles import has_capability
from core.templatetags.money import money
from invoicing.models import CreditNote, Invoice, InvoiceLine
from portal.models import Contact, PaymentNotice, PortalAccount, PortalEvent
from receivables.models import (
    Allocation,
    Dispute,
    DisputeAttachment,
    DisputeMessage,
    Payment,
    Reminder,
)
from timesheets.models import Flag, TimeEntry

PAGE_SIZE = 50
NOISE = {"created_at", "updated_at", "last_seen_as_of"}


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    model: type[Model]
    capability: str
    account_path: str | None  # lookup from the history row to the account id
    url_name: str | None = None


KINDS = (
    Kind("account", "Customer", Account, "customers.view", "id", "records:customer"),
    Kind("agreement", "Agreement", Agreement, "agreements.view", "account_id", "records:agreement"),
    Kind("role_rate", "Rate", RoleRate, "agreements.view", "agreement__account_id"),
    Kind("milestone", "Milestone", Milestone, "agreements.view", "agreement__account_id"),
    Kind("entry", "Time entry", TimeEntry, "entries.view", None),
    Kind("flag", "Flag", Flag, "flags.view", "agreement__account_id", "timesheets:flag_detail"),
    Kind("invoice", "Invoice", Invoice, "invoices.view", "account_id", "invoicing:detail"),
    Kind("line", "Invoice line", InvoiceLine, "invoices.view", "invoice__account_id"),
    Kind("credit_note", "Credit note", CreditNote, "invoices.view", "invoice__account_id"),
    Kind("payment", "Payment", Payment, "payments.view", "account_id", "receivables:payment"),
    Kind("allocation", "Allocation", Allocation, "payments.view", "payment__account_id"),
    Kind("reminder", "Reminder", Reminder, "dunning.view", "invoice__account_id"),
    Kind(
        "dispute", "Dispute", Dispute, "disputes.view", "invoice__account_id", "receivables:dispute"
    ),
    Kind(
        "dispute_message",
        "Dispute message",
        DisputeMessage,
        "disputes.view",
        "dispute__invoice__account_id",
    ),
    Kind(
        "dispute_file",
        "Dispute file",
        DisputeAttachment,
        "disputes.view",
        "message__dispute__invoice__account_id",
    ),
    Kind("payment_notice", "Payment notice", PaymentNotice, "payments.view", "account_id"),
    Kind("contact", "Portal contact", Contact, "contacts.view", "account_id"),
    Kind("portal_account", "Portal options", PortalAccount, "contacts.view", "account_id"),
    Kind("portal_event", "Portal action", PortalEvent, "contacts.view", "contact__account_id"),
)
# Rows a customer contact wrote through the portal have no staff user and this change reason
# (portal.services._stamp, receivables.disputes._stamp); the contact is shown as their actor.
PORTAL_REASON = "portal: "
BY_KEY = {k.key: k for k in KINDS}
RANK = {k.key: i for i, k in enumerate(KINDS)}  # ties on (date, history id) break by this


def kinds_for(user: Any) -> list[Kind]:
    return [k for k in KINDS if has_capability(user, k.capability)]


class HistoryFilterForm(DateRangeForm):
    kind = forms.ChoiceField(required=False, label="Record")
    object = forms.CharField(required=False, max_length=100, label="Record ID")
    user = forms.CharField(required=False, max_length=150)
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)
    before = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, kinds: list[Kind], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            ("", "Any"),
            *((k.key, k.label) for k in kinds),
        ]
        self.fields["object"].widget.attrs["placeholder"] = "e.g. INV-2026-00001, AGR-1, 42"
        self.fields["user"].widget.attrs["placeholder"] = "Username"


@dataclass
class Change:
    field: str
    old: str
    new: str


@dataclass
class Event:
    when: dt.datetime
    kind: Kind
    action: str  # Created, Changed, Deleted
    label: str
    object_id: int
    user: str
    reason: str
    changes: list[Change] = field(default_factory=list)
    history_id: int = 0
    url: str = ""  # the record's page, if its kind has one

    @property
    def cursor(self) -> str:
        return f"{self.when.isoformat()}|{self.kind.key}|{self.history_id}"


def _label(kind: Kind, row: Any) -> str:
    for name in ("number", "external_id"):
        value = getattr(row, name, None)
        if value:
            return str(value)
    if kind.key == "line":
        return f"#{row.id} of invoice #{row.invoice_id}"
    if kind.key == "flag":
        return f"{row.code} {row.subject}"
    if kind.key == "allocation":
        return f"#{row.id}: payment #{row.payment_id} → invoice #{row.invoice_id}"
    if kind.key == "dispute":
        return f"#{row.id} on invoice #{row.invoice_id}"
    if kind.key == "dispute_message":
        return f"#{row.id} on dispute #{row.dispute_id}"
    if kind.key == "dispute_file":
        return f"{row.original_name} (message #{row.message_id})"
    if kind.key == "contact":
        return row.email
    if kind.key == "portal_account":
        return f"of customer #{row.account_id}"
    if kind.key == "portal_event":
        return f"{row.action} #{row.id}"
    return f"#{row.id}"


@functools.cache
def _history_model(model: type[Model]) -> Any:
    """The model's history model, read once: simple_history's `model.history` builds a manager
    class (`from_queryset`, an `inspect.getmembers` walk) on every access, 0.3-0.5 ms each, and
    a page reads it for every kind."""
    return model.history.model  # type: ignore[attr-defined]


@functools.cache
def _tracked(kind: Kind) -> list[Any]:
    """The model's fields its history keeps (a history may exclude some, e.g. Flag's generated
    subject_number)."""
    kept = {f.name for f in _history_model(kind.model)._meta.concrete_fields}
    return [
        f
        for f in kind.model._meta.concrete_fields
        if f.name in kept and f.name not in NOISE and f.name != "id"
    ]


def _text(value: Any, model_field: Any = None, row: Any = None) -> str:
    """A stored value as the pages show it: money as `USD 9,451.48` (two places and the record's
    currency), other decimals without trailing zeros, datetimes in ISO."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        if getattr(model_field, "decimal_places", None) == 2:
            return money(value, getattr(row, "currency", "") or "")
        return "0" if value == 0 else f"{value.normalize():,f}"
    return str(value)


def _object_filter(kind: Kind, text: str) -> Q | None:
    q = Q()
    names = {f.name for f in kind.model._meta.concrete_fields}
    matched = False
    for name in ("number", "external_id", "subject"):
        if name in names:
            q |= Q(**{f"{name}__iexact": text})
            matched = True
    if text.lstrip("#").isdigit():
        q |= Q(id=int(text.lstrip("#")))
        matched = True
    return q if matched else None


def _cursor(text: str) -> tuple[dt.datetime, str, int] | None:
    try:
        when, key, hid = text.split("|")
        return dt.datetime.fromisoformat(when), key, int(hid)
    except ValueError:
        return None


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _rows(kind: Kind, data: dict[str, Any], user_ids: list[int]) -> QuerySet[Any] | None:
    hist = _history_model(kind.model)
    qs = hist.objects.all()
    if data.get("object"):
        match = _object_filter(kind, data["object"].strip())
        if match is None:
            return None
        qs = qs.filter(match)
    if data.get("user"):
        qs = qs.filter(history_user_id__in=user_ids)
    # A day is [its local midnight, the next one): a range on the indexed column, where
    # `history_date__date` would convert every row before comparing.
    if data.get("date_from"):
        qs = qs.filter(history_date__gte=_midnight(data["date_from"]))
    if data.get("date_to"):
        qs = qs.filter(history_date__lt=_midnight(data["date_to"] + dt.timedelta(days=1)))
    if data.get("account"):
        if kind.account_path is None:
            return None
        qs = qs.filter(**{kind.account_path: data["account"]})
    cursor = _cursor(data.get("before") or "")
    if cursor:
        # The global order is (date, history id, kind) descending: rows sharing a timestamp (a
        # bulk import writes many) continue on the next page exactly where this one stopped.
        when, key, hid = cursor
        older = Q(history_date__lt=when) | Q(history_date=when, history_id__lt=hid)
        if RANK[kind.key] < RANK.get(key, -1):
            older |= Q(history_date=when, history_id=hid)
        qs = qs.filter(older)
    return qs


def _newest(kind: Kind, qs: QuerySet[Any], size: int) -> QuerySet[Any]:
    """(date, history id, rank) of a table's newest `size` matching rows: one index scan."""
    return (
        qs.annotate(rank=Value(RANK[kind.key], output_field=IntegerField()))
        .values_list("history_date", "history_id", "rank")
        .order_by("-history_date", "-history_id")[:size]
    )


def _full(kind: Kind, history_ids: list[int]) -> list[Any]:
    """The shown rows of one table with their user and the history id of their previous version."""
    hist = _history_model(kind.model)
    prev = hist.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id")).order_by(
        "-history_id"
    )
    return list(
        hist.objects.filter(history_id__in=history_ids)
        .select_related("history_user")
        .annotate(prev_id=Subquery(prev.values("history_id")[:1]))
    )


def _events(kind: Kind, rows: list[Any]) -> list[Event]:
    hist = _history_model(kind.model)
    previous = {
        p.history_id: p
        for p in hist.objects.filter(history_id__in=[r.prev_id for r in rows if r.prev_id])
    }
    fields = _tracked(kind)
    events = []
    for row in rows:
        action = {"+": "Created", "~": "Changed", "-": "Deleted"}[row.history_type]
        changes = []
        before = previous.get(row.prev_id)
        if row.history_type == "~" and before is not None:
            for f in fields:
                old, new = getattr(before, f.attname), getattr(row, f.attname)
                if old != new:
                    changes.append(
                        Change(f.verbose_name, _text(old, f, before), _text(new, f, row))
                    )
        elif row.history_type == "+":
            for f in fields:
                value = getattr(row, f.attname)
                if value not in (None, "", False):
                    changes.append(Change(f.verbose_name, "", _text(value, f, row)))
        reason = row.history_change_reason or ""
        if row.history_user:
            user = row.history_user.get_username()
        elif reason.startswith(PORTAL_REASON):
            user = f"{reason.removeprefix(PORTAL_REASON)} (customer contact)"
        else:
            user = "system (import or command)"
        events.append(
            Event(
                row.history_date,
                kind,
                action,
                _label(kind, row),
                row.id,
                user,
                reason,
                changes,
                row.history_id,
            )
        )
    return events


def history_page(
    *, user: Any, data: dict[str, Any], size: int = PAGE_SIZE
) -> tuple[list[Event], str | None]:
    """The newest `size` events matching the filters over the tables the user may read, and the
    cursor of the next (older) page."""
    kinds = kinds_for(user)
    if data.get("kind"):
        kinds = [k for k in kinds if k.key == data["kind"]]
    user_ids: list[int] = []
    if data.get("user"):
        # The matching users once, then an indexed `history_user_id IN (...)` on each table.
        user_ids = list(
            get_user_model()
            .objects.filter(username__icontains=data["user"].strip())
            .values_list("pk", flat=True)
        )
        if not user_ids:
            return [], None
    parts = []
    for kind in kinds:
        qs = _rows(kind, data, user_ids)
        if qs is not None:
            parts.append(_newest(kind, qs, size + 1))
    if not parts:
        return [], None
    # One query merges the tables' newest rows (each branch its own index scan and LIMIT) into
    # the page; then only the rows shown are read in full, with their previous versions, so the
    # page costs 1 + 2 queries per kind it shows, whatever the tables hold.
    if len(parts) == 1:
        heads = list(parts[0])
    else:
        merged = parts[0].union(*parts[1:], all=True)
        heads = list(merged.order_by("-history_date", "-history_id", "-rank")[: size + 1])
    more = len(heads) > size
    heads = heads[:size]
    built: dict[tuple[int, int], Event] = {}
    for kind in kinds:
        ids = [hid for _, hid, rank in heads if rank == RANK[kind.key]]
        if ids:
            events = _events(kind, sorted(_full(kind, ids), key=lambda r: -r.history_id))
            if kind.url_name:  # reversed once a kind, not a {% url %} per event
                url = PkUrl(kind.url_name)
                for e in events:
                    e.url = url(e.object_id)
            built.update({(RANK[kind.key], e.history_id): e for e in events})
    page = [built[(rank, hid)] for _, hid, rank in heads]
    return page, (page[-1].cursor if more and page else None)


CSV_CHUNK = 500
CSV_HEADER = (
    "when",
    "record_type",
    "record",
    "record_id",
    "action",
    "user",
    "reason",
    "field",
    "old",
    "new",
)


def csv_rows(*, user: Any, data: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Every event matching the filters, newest first, one row per changed field (one row with
    no field for an event without one), as the page shows them: the page's cursor walk in
    chunks of CSV_CHUNK events, so memory holds one chunk and each chunk costs what a page does."""
    before = ""
    while True:
        events, cursor = history_page(user=user, data={**data, "before": before}, size=CSV_CHUNK)
        for e in events:
            head = (
                e.when.isoformat(timespec="seconds"),
                e.kind.label,
                e.label,
                e.object_id,
                e.action,
                e.user,
                e.reason,
            )
            for change in e.changes or [Change("", "", "")]:
                yield (*head, change.field, change.old, change.new)
        if cursor is None:
            return
        before = cursor
