"""The plan of a demo firm: scales, employees, customers and agreement skeletons (dates, types,
rates), deterministic from the seed and the end date."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from demo.generator.names import (
    FIRST,
    INCREMENTS,
    LAST,
    NAME_A,
    NAME_B,
    NAME_C,
    ROLE_WEIGHTS,
    ROLES,
    TAX,
    TERMS,
    TYPES,
)


@dataclass(frozen=True)
class Scale:
    name: str
    employees: int
    customers: int
    agreements: int
    entries: int  # target; the generated count is within a few percent
    months: int  # months of time entries, ending at the end date
    invoices: int  # historical invoices the benchmarks synthesize for the AR aging


SCALES = {
    "small": Scale(
        "small", employees=16, customers=20, agreements=56, entries=4_000, months=6, invoices=400
    ),
    "firm": Scale(
        "firm",
        employees=300,
        customers=500,
        agreements=1_500,
        entries=800_000,
        months=24,
        invoices=29_000,
    ),
    "xl": Scale(
        "xl",
        employees=3_000,
        customers=5_000,
        agreements=15_000,
        entries=8_000_000,
        months=24,
        invoices=290_000,
    ),
}


@dataclass
class Employee:
    external_id: str
    name: str
    role: str
    pool: list[int] = field(default_factory=list)  # agreement indexes this person works on
    weights: list[int] = field(default_factory=list)


@dataclass
class Account:
    external_id: str
    name: str
    email: str
    currency: str
    rate: int  # base hourly rate, whole currency units
    tax: str


@dataclass
class AgreementPlan:
    index: int
    external_id: str
    account: Account
    project_code: str
    type: str
    stage: str
    start: dt.date
    end: dt.date | None
    parent: str = ""
    po: str = ""
    increment: int = 15
    terms: int = 30
    tax: str = "0"
    hourly_rate: int | None = None
    role_rates: dict[str, int] = field(default_factory=dict)
    idle: bool = False  # signed but nobody logs time: NOT_STARTED
    us_dates: bool = False
    delivered_minutes: int = 0
    milestones: str = ""
    amount: int | None = None  # Fixed Fee


@dataclass
class Firm:
    scale: Scale
    seed: int
    start: dt.date  # first day of time entries
    end: dt.date  # last day of time entries (inclusive)
    employees: list[Employee]
    accounts: list[Account]
    agreements: list[AgreementPlan]
    entries_written: int = 0


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return dt.date(year, month, min(day.day, last))


def month_end(day: dt.date) -> dt.date:
    return add_months(day.replace(day=1), 1) - dt.timedelta(days=1)


def plan_firm(scale: str | Scale = "small", *, seed: int = 2026, end: dt.date) -> Firm:
    """Employees, customers and agreement skeletons (dates, types, rates), deterministic."""
    sc = SCALES[scale] if isinstance(scale, str) else scale
    rng = random.Random(f"plan:{seed}:{sc.name}")
    start = add_months(end.replace(day=1), -(sc.months - 1))
    employees = _plan_employees(rng, sc)
    accounts = _plan_accounts(rng, sc)
    agreements = _plan_agreements(rng, sc, accounts, start=start, end=end)
    _plan_teams(rng, agreements, employees)
    return Firm(sc, seed, start, end, employees, accounts, agreements)


def _plan_employees(rng: random.Random, sc: Scale) -> list[Employee]:
    employees = []
    for n in range(1, sc.employees + 1):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        employees.append(Employee(f"E{n:05d}", name, rng.choices(ROLES, ROLE_WEIGHTS)[0]))
    return employees


def _plan_accounts(rng: random.Random, sc: Scale) -> list[Account]:
    accounts = []
    for n in range(1, sc.customers + 1):
        name = f"{rng.choice(NAME_A)} {rng.choice(NAME_B)} {rng.choice(NAME_C)}"
        if n % 7 == 0:
            name = f"{name}, {n}"  # a comma in a CSV cell
        currency = "EUR" if rng.random() < 0.2 else "USD"
        accounts.append(
            Account(
                f"C{n:05d}",
                name,
                f"ap{n}@customer{n}.example" if n % 11 else "",
                currency,
                rng.randrange(110, 225, 5),
                rng.choice(TAX[currency]),
            )
        )
    return accounts


def _plan_agreements(
    rng: random.Random, sc: Scale, accounts: list[Account], *, start: dt.date, end: dt.date
) -> list[AgreementPlan]:
    agreements: list[AgreementPlan] = []
    by_account: dict[str, list[AgreementPlan]] = {}
    renewed: set[int] = set()
    earliest = add_months(start, -6)
    span_days = (add_months(end, -1) - earliest).days
    for i in range(sc.agreements):
        # Every customer has one agreement; the rest go to big customers more often.
        acc = accounts[i] if i < len(accounts) else accounts[int(len(accounts) * rng.random() ** 2)]
        own = by_account.setdefault(acc.external_id, [])
        plan = _plan_agreement(
            rng, i, acc, own, renewed, earliest=earliest, span_days=span_days, end=end
        )
        _plan_bundle_and_po(rng, plan, own)
        _plan_price(rng, plan)
        plan.idle = plan.stage in ("Signed", "Closed Won") and rng.random() < 0.03
        own.append(plan)
        agreements.append(plan)
    return agreements


def _plan_agreement(
    rng: random.Random,
    i: int,
    acc: Account,
    own: list[AgreementPlan],
    renewed: set[int],
    *,
    earliest: dt.date,
    span_days: int,
    end: dt.date,
) -> AgreementPlan:
    """Agreement `i` of `acc`: type, stage, dates (a renewal of an earlier one a quarter of the
    time one can be renewed), increment, terms and tax."""
    kind = rng.choice(TYPES)
    stage = rng.choices(
        ["Signed", "Closed Won", "Draft", "Cancelled", "Closed Lost"], [84, 4, 7, 4, 1]
    )[0]
    code = f"PRJ-{i + 1:05d}"
    begin = earliest + dt.timedelta(days=rng.randrange(max(span_days, 1)))
    renewal = _renewable(own, kind, renewed, end=end)
    if renewal is not None and renewal.end is not None and rng.random() < 0.25:
        # A renewal: same project code, starting the day after the previous one ended.
        code, begin, stage = renewal.project_code, renewal.end + dt.timedelta(days=1), "Signed"
        renewed.add(renewal.index)
    finish = _plan_end(rng, kind, begin)
    return AgreementPlan(
        index=i,
        external_id=f"AG-{i + 1:06d}",
        account=acc,
        project_code=code,
        type=kind,
        stage=stage,
        start=begin,
        end=finish,
        increment=rng.choice(INCREMENTS),
        terms=rng.choice(TERMS),
        tax=acc.tax if rng.random() < 0.9 else rng.choice(TAX[acc.currency]),
        us_dates=rng.random() < 0.03,
    )


def _renewable(
    own: list[AgreementPlan], kind: str, renewed: set[int], *, end: dt.date
) -> AgreementPlan | None:
    """The customer's latest signed root agreement of `kind` that ended and is not renewed yet."""
    return next(
        (
            a
            for a in reversed(own)
            if a.end
            and a.end < end
            and a.stage == "Signed"
            and a.type == kind
            and not a.parent
            and a.index not in renewed
        ),
        None,
    )


def _plan_end(rng: random.Random, kind: str, begin: dt.date) -> dt.date | None:
    if kind == "Fixed Fee":
        return month_end(add_months(begin, rng.randrange(2, 10)))
    if kind == "Prepaid Hours":
        return None if rng.random() < 0.3 else month_end(add_months(begin, rng.randrange(6, 13)))
    return None if rng.random() < 0.5 else month_end(add_months(begin, rng.randrange(3, 25)))


def _plan_bundle_and_po(rng: random.Random, plan: AgreementPlan, own: list[AgreementPlan]) -> None:
    roots = [a for a in own if not a.parent and a.stage in ("Signed", "Closed Won")]
    if roots and rng.random() < 0.12:
        plan.parent = rng.choice(roots).external_id  # a bundle: billed on the parent's invoice
    if rng.random() < 0.35:
        plan.po = f"PO-{plan.account.external_id[1:]}-{rng.randrange(100, 999)}"


def _plan_price(rng: random.Random, plan: AgreementPlan) -> None:
    """A Fixed Fee's amount and milestones, a Prepaid block's rate, a T&M rate and rate card."""
    rate = plan.account.rate + rng.randrange(-10, 15, 5)
    if plan.type == "Fixed Fee":
        plan.amount = rng.randrange(50, 2500) * 100
        plan.milestones = _milestones(rng, plan)
    elif plan.type == "Prepaid Hours":
        plan.hourly_rate = rate
    else:
        r = rng.random()
        if r < 0.05:
            # A rate card that does not cover every role, and no default rate: MISSING_RATE.
            plan.role_rates = {role: rate + 25 * k for k, role in enumerate(ROLES[:2])}
        elif r < 0.45:
            plan.hourly_rate = rate
            plan.role_rates = {
                role: rate + rng.randrange(10, 60, 5)
                for role in rng.sample(ROLES, rng.randrange(1, 4))
            }
        else:
            plan.hourly_rate = rate


def _plan_teams(
    rng: random.Random, agreements: list[AgreementPlan], employees: list[Employee]
) -> None:
    """Every working agreement gets people; Draft and Cancelled ones get a few stray hours."""
    for plan in agreements:
        if plan.idle:
            continue
        signed = plan.stage in ("Signed", "Closed Won")
        size = rng.randrange(1, 7) if signed else 1
        for emp in rng.sample(employees, min(size, len(employees))):
            emp.pool.append(plan.index)
            emp.weights.append(rng.randrange(2, 10) if signed else 1)


def _milestones(rng: random.Random, plan: AgreementPlan) -> str:
    shape = rng.random()
    if shape < 0.3:
        return ""  # one milestone of 100% dated Start Date (SPEC 3)
    count = rng.randrange(2, 5)
    cuts = sorted(rng.sample(range(5, 100, 5), count - 1))
    percents = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    names = ["Kickoff", "Design", "Build", "Acceptance", "Go-live"]
    parts = []
    assert plan.end is not None
    span = max((plan.end - plan.start).days, 1)
    for k, pct in enumerate(percents):
        if shape < 0.7:
            due = plan.start + dt.timedelta(days=span * (k + 1) // count)
            parts.append(f"{names[k]}:{pct}:{due.isoformat()}")
        else:
            parts.append(f"{names[k]}:{pct}")
    return "; ".join(parts)
