"""The demo firm's CSV rows (SPEC 1.1, 1.2, 1.3), streamed: time entries first (they set the
delivered hours), then agreements, then payments of approved invoices."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from demo.generator.buyers import agreement_name, buyer_columns
from demo.generator.names import INTERNAL_CODES, METHODS, NOTES, TASKS
from demo.generator.plan import AgreementPlan, Employee, Firm


def _working_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5 and (day.month, day.day) not in {(1, 1), (12, 25)}:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _fmt_hours(minutes: int, rng: random.Random) -> str:
    if minutes % 3 == 0 and rng.random() < 0.8:
        text = f"{Decimal(minutes) / 60:.2f}".rstrip("0").rstrip(".")
        return text
    return f"{minutes // 60}:{minutes % 60:02d}"


def _fmt_bool(value: bool, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.85:
        return "yes" if value else "no"
    return rng.choice(["TRUE", "1", "Y"] if value else ["FALSE", "0", "N"])


def _fmt_date(day: dt.date, us: bool) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}" if us else day.isoformat()


def time_entry_rows(firm: Firm) -> Iterator[list[str]]:
    """Rows of SPEC 1.2 (without the header), in Entry ID order. Fills delivered hours."""
    rng = random.Random(f"entries:{firm.seed}:{firm.scale.name}")
    days = _working_days(firm.start, firm.end)
    per_day = firm.scale.entries / max(len(days) * len(firm.employees), 1)
    base, frac = int(per_day), per_day - int(per_day)
    recent = firm.end - dt.timedelta(days=7)
    ids = itertools.count(100000)
    for day in days:
        for emp in firm.employees:
            n = base + (1 if rng.random() < frac else 0) + rng.choice((-1, 0, 0, 1))
            if n <= 0:
                continue
            parts = _day_parts(rng, n)
            pool = _active_pool(firm.agreements, emp, day)
            for minutes in parts:
                if minutes <= 0:
                    continue
                yield from _entry_rows(rng, ids, pool, day, minutes, recent=recent)
    firm.entries_written = next(ids) - 100000


def _day_parts(rng: random.Random, n: int) -> list[int]:
    """A person's day (7-9 hours, now and then 13-16: EXCESSIVE_DAILY_HOURS) cut into `n`
    entries of whole 5 minutes."""
    total = rng.randrange(420, 545, 5)
    if rng.random() < 0.004:
        total = rng.randrange(13 * 60, 16 * 60, 15)  # EXCESSIVE_DAILY_HOURS
    cuts = sorted(rng.sample(range(1, total // 5), n - 1)) if n > 1 else []
    return [5 * (b - a) for a, b in zip([0, *cuts], [*cuts, total // 5], strict=True)]


@dataclass
class _Pool:
    """A person's agreements on a day: all of them, those running that day with cumulative
    weights (for a quick weighted choice)."""

    plans: list[AgreementPlan]
    emp: Employee
    active: list[tuple[int, int]]
    cum: list[int]


def _active_pool(plans: list[AgreementPlan], emp: Employee, day: dt.date) -> _Pool:
    active = [
        (i, w)
        for i, w in zip(emp.pool, emp.weights, strict=True)
        if plans[i].start <= day and (plans[i].end is None or day <= plans[i].end)
    ]
    cum: list[int] = []
    acc = 0
    for _, w in active:
        acc += w
        cum.append(acc)
    return _Pool(plans, emp, active, cum)


def _entry_code(rng: random.Random, pool: _Pool) -> tuple[str, AgreementPlan | None, bool]:
    """(project code, its agreement or None, billable): mostly a running agreement of the
    person's pool; now and then an unknown code, an agreement outside its dates or internal time."""
    r = rng.random()
    if r < 0.003:
        return f"PRJ-9{rng.randrange(1000, 9999)}", None, True  # a code the CRM never had
    if r < 0.006 and pool.emp.pool:
        plan = pool.plans[rng.choice(pool.emp.pool)]  # possibly outside its dates
        return plan.project_code, plan, True
    if r < 0.09 or not pool.active:
        return rng.choice(INTERNAL_CODES), None, False
    k = bisect.bisect_right(pool.cum, rng.randrange(pool.cum[-1]))
    plan = pool.plans[pool.active[k][0]]
    return plan.project_code, plan, rng.random() > 0.03


def _entry_rows(
    rng: random.Random,
    ids: Iterator[int],
    pool: _Pool,
    day: dt.date,
    minutes: int,
    *,
    recent: dt.date,
) -> Iterator[list[str]]:
    """One entry's row, and now and then the same work exported twice: DUPLICATE_ENTRY."""
    emp = pool.emp
    code, plan, billable = _entry_code(rng, pool)
    if plan is not None and plan.start <= day and (plan.end is None or day <= plan.end):
        plan.delivered_minutes += minutes
    approved = rng.random() > (0.25 if day > recent else 0.004)
    role = emp.role
    q = rng.random()
    if q < 0.03:
        role = role.lower()
    elif q < 0.05:
        role = ""
    row = [
        str(next(ids)),
        _fmt_date(day, rng.random() < 0.02),
        emp.external_id,
        emp.name,
        role,
        code,
        rng.choice(TASKS),
        _fmt_hours(minutes, rng),
        _fmt_bool(billable, rng),
        _fmt_bool(approved, rng),
        rng.choice(NOTES),
    ]
    yield row
    if rng.random() < 0.003:  # the same work exported twice: DUPLICATE_ENTRY
        dup = list(row)
        dup[0] = str(next(ids))
        yield dup


def agreement_rows(firm: Firm) -> Iterator[list[str]]:
    """Rows of SPEC 1.1 (without the header), parents before children.

    Call after time_entry_rows has been consumed: caps and hours sold come from delivered hours.
    """
    rng = random.Random(f"agreements:{firm.seed}:{firm.scale.name}")
    for p in firm.agreements:
        delivered_h = p.delivered_minutes // 60
        hours_sold = cap = amount = ""
        if p.type == "Time and Materials":
            if p.idle or delivered_h == 0:
                hours_sold = str(rng.randrange(40, 400, 10))
            else:
                hours_sold = str(max(10, delivered_h * rng.randrange(80, 160) // 1000 * 10))
            if rng.random() < 0.3 and delivered_h:
                cap = str(max(5, delivered_h * rng.randrange(90, 130) // 500 * 5))
        elif p.type == "Prepaid Hours":
            block = max(10, delivered_h * rng.randrange(40, 130) // 500 * 5) if delivered_h else 80
            hours_sold = str(block)
            assert p.hourly_rate is not None
            amount = str(block * p.hourly_rate * rng.randrange(85, 96) // 10000 * 100)
        else:
            amount = str(p.amount)
            hours_sold = str(rng.randrange(50, 800, 10)) if rng.random() < 0.5 else ""
        cards = "; ".join(f"{role}={rate}" for role, rate in p.role_rates.items())
        yield [
            p.external_id,
            p.parent,
            p.account.external_id,
            p.account.name,
            p.account.email,
            p.project_code,
            p.type,
            p.stage,
            _fmt_date(p.start, p.us_dates),
            _fmt_date(p.end, p.us_dates) if p.end else "",
            hours_sold,
            cap,
            amount,
            str(p.hourly_rate) if p.hourly_rate is not None else "",
            cards,
            str(p.increment) if p.increment != 15 or rng.random() < 0.5 else "",
            p.account.currency if p.account.currency != "USD" or rng.random() < 0.5 else "",
            str(p.terms),
            p.po,
            p.tax if p.tax != "0" else "",
            p.milestones,
            agreement_name(p.index, p.project_code, firm.seed),
            *buyer_columns(p.account, firm.seed),
        ]


@dataclass(frozen=True)
class OpenInvoice:
    """What payment generation needs to know about an approved invoice."""

    number: str
    account_id: str
    currency: str
    total: Decimal
    invoice_date: dt.date
    due_date: dt.date


def payment_rows(invoices: list[OpenInvoice], *, seed: int, as_of: dt.date) -> Iterator[list[str]]:
    """Rows of SPEC 1.3 paying a realistic share of `invoices` by `as_of`, deterministic.

    Most invoices are paid in full quoting their number, some without a reference (allocated
    oldest first), some partly, a few together in one payment, some not yet; one overpayment per
    few dozen customers leaves unapplied cash.
    """
    rng = random.Random(f"payments:{seed}")
    n = 0
    pending: list[OpenInvoice] = []
    for inv in sorted(invoices, key=lambda i: (i.invoice_date, i.number)):
        late = rng.choice([-10, -3, 0, 2, 5, 12, 25, 40, 75])
        paid_on = inv.due_date + dt.timedelta(days=late)
        if paid_on > as_of or rng.random() < 0.12:
            continue  # not paid (yet): shows in the aging buckets
        r = rng.random()
        amount, reference = inv.total, f"Remittance {inv.number}"
        if r < 0.1:
            reference = "Payment, thank you"
        elif r < 0.2:
            amount = (inv.total * Decimal(rng.randrange(20, 80)) / 100).quantize(Decimal("0.01"))
            reference = f"Part payment {inv.number}"
        elif r < 0.25:
            pending.append(inv)
            if len(pending) < 2:
                continue
            amount = sum((p.total for p in pending), Decimal("0"))
            reference = "Invoices " + ", ".join(p.number for p in pending)
            pending = []
        elif r < 0.27:
            amount = inv.total + Decimal(rng.randrange(50, 500))
        n += 1
        yield [
            f"PAY-{n:06d}",
            paid_on.isoformat(),
            inv.account_id,
            f"{amount:.2f}",
            inv.currency,
            reference,
            rng.choice(METHODS),
        ]
