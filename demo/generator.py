"""A deterministic demo firm: agreements, time entries and payments as the CSV files of SPEC 1.

Used by `seed_demo` (through the same import services as real data) and by the benchmarks in
`bench/`. Everything comes from `random.Random(seed)` and the `end` date, so the same seed, scale
and end date give byte-identical files. Files are streamed row by row: the `firm` and `xl` scales
never hold a whole file in memory (only the plan: employees, accounts, agreements).

The firm has the exceptions SPEC section 2 is about, at realistic rates: hours on project codes the
CRM does not know, on Draft or Cancelled agreements, outside an agreement's dates, with no rate,
past a T&M cap, duplicated, unapproved and old, and days of more than 12 hours.

Caps, hours sold and prepaid blocks are set from the hours actually generated (the entries are
written first), so some agreements run over their cap and some end undelivered, as in real life.
Money is integer cents or Decimal here; no float.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from agreements.importing.rows import COLUMNS as AGREEMENT_IMPORT_COLUMNS
from timesheets.importing.rows import COLUMNS as ENTRY_IMPORT_COLUMNS

# The importers' own headers (SPEC 1), so the demo files are read exactly as a CRM export is; the
# agreement file stops before the optional e-invoice party columns.
AGREEMENT_COLUMNS = list(
    AGREEMENT_IMPORT_COLUMNS[: AGREEMENT_IMPORT_COLUMNS.index("Milestones") + 1]
)
ENTRY_COLUMNS = list(ENTRY_IMPORT_COLUMNS)
PAYMENT_COLUMNS = ["Payment ID", "Date", "Account ID", "Amount", "Currency", "Reference", "Method"]


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

ROLES = ["Engineer", "Senior Engineer", "Project Manager", "Consultant", "Architect", "Analyst"]
ROLE_WEIGHTS = [30, 20, 10, 20, 8, 12]
FIRST = [
    "Ava",
    "Ben",
    "Chloé",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Noor",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Uma",
    "Viktor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoë",
]
LAST = [
    "Adams",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hughes",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "O'Brien",
    "Patel",
    "Quist",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zimmermann",
]
NAME_A = [
    "Acme",
    "Blue",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "Nimbus",
    "Orchid",
    "Pioneer",
    "Quartz",
    "River",
    "Summit",
    "Tidal",
    "Union",
    "Vertex",
    "Willow",
    "Zenith",
]
NAME_B = [
    "Logistics",
    "Health",
    "Foods",
    "Energy",
    "Bank",
    "Retail",
    "Media",
    "Labs",
    "Motors",
    "Insurance",
    "Pharma",
    "Airlines",
    "Telecom",
    "Textiles",
    "Studios",
    "Software",
]
NAME_C = ["Inc", "Ltd", "GmbH", "LLC", "SA", "plc", "& Co", "Group", "AG"]
TASKS = [
    "Development",
    "Code review",
    "Meeting",
    "Design",
    "Testing",
    "Deployment",
    "Support",
    "Documentation",
    "Analysis",
    "Workshop",
]
NOTES = [
    "",
    "",
    "",
    "Sprint work",
    "Client call, follow-up",
    'Fixed "login" bug',
    "Weekly status",
    "Réunion de lancement",
    "Data migration",
    "On-site support",
    "Release prep",
    "Performance tuning",
    "Requirements review",
]
INTERNAL_CODES = ["INTERNAL", "TRAINING", "PRESALES", "HOLIDAY"]
METHODS = ["ACH", "Wire", "Check", "Card"]
INCREMENTS = [15] * 10 + [6] * 4 + [30] * 2 + [60, 1, 10, 5]
TERMS = [30] * 12 + [15, 15, 45, 45, 45, 60, 60, 10]
TAX = {"USD": ["0"] * 6 + ["8.25", "8.25", "6.5", "10"], "EUR": ["20", "20", "19", "21", "0"]}
TYPES = ["Time and Materials"] * 12 + ["Fixed Fee"] * 4 + ["Prepaid Hours"] * 4


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

    employees = []
    for n in range(1, sc.employees + 1):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        employees.append(Employee(f"E{n:05d}", name, rng.choices(ROLES, ROLE_WEIGHTS)[0]))

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

    agreements: list[AgreementPlan] = []
    by_account: dict[str, list[AgreementPlan]] = {}
    renewed: set[int] = set()
    earliest = add_months(start, -6)
    span_days = (add_months(end, -1) - earliest).days
    for i in range(sc.agreements):
        # Every customer has one agreement; the rest go to big customers more often.
        acc = accounts[i] if i < len(accounts) else accounts[int(len(accounts) * rng.random() ** 2)]
        own = by_account.setdefault(acc.external_id, [])
        kind = rng.choice(TYPES)
        stage = rng.choices(
            ["Signed", "Closed Won", "Draft", "Cancelled", "Closed Lost"], [84, 4, 7, 4, 1]
        )[0]
        code = f"PRJ-{i + 1:05d}"
        begin = earliest + dt.timedelta(days=rng.randrange(max(span_days, 1)))
        renewal = next(
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
        if renewal is not None and renewal.end is not None and rng.random() < 0.25:
            # A renewal: same project code, starting the day after the previous one ended.
            code, begin, stage = renewal.project_code, renewal.end + dt.timedelta(days=1), "Signed"
            renewed.add(renewal.index)
        if kind == "Fixed Fee":
            finish: dt.date | None = month_end(add_months(begin, rng.randrange(2, 10)))
        elif kind == "Prepaid Hours":
            finish = (
                None if rng.random() < 0.3 else month_end(add_months(begin, rng.randrange(6, 13)))
            )
        else:
            finish = (
                None if rng.random() < 0.5 else month_end(add_months(begin, rng.randrange(3, 25)))
            )
        plan = AgreementPlan(
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
        roots = [a for a in own if not a.parent and a.stage in ("Signed", "Closed Won")]
        if roots and rng.random() < 0.12:
            plan.parent = rng.choice(roots).external_id  # a bundle: billed on the parent's invoice
        if rng.random() < 0.35:
            plan.po = f"PO-{acc.external_id[1:]}-{rng.randrange(100, 999)}"
        rate = acc.rate + rng.randrange(-10, 15, 5)
        if kind == "Fixed Fee":
            plan.amount = rng.randrange(50, 2500) * 100
            plan.milestones = _milestones(rng, plan)
        elif kind == "Prepaid Hours":
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
        plan.idle = plan.stage in ("Signed", "Closed Won") and rng.random() < 0.03
        own.append(plan)
        agreements.append(plan)

    # Teams: every working agreement gets people; Draft and Cancelled ones get a few stray hours.
    for plan in agreements:
        if plan.idle:
            continue
        signed = plan.stage in ("Signed", "Closed Won")
        size = rng.randrange(1, 7) if signed else 1
        for emp in rng.sample(employees, min(size, len(employees))):
            emp.pool.append(plan.index)
            emp.weights.append(rng.randrange(2, 10) if signed else 1)
    return Firm(sc, seed, start, end, employees, accounts, agreements)


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
    plans = firm.agreements
    # Each person's pool, sorted by start date, with cumulative weights for quick weighted choice.
    next_id = 100000
    for day in days:
        for emp in firm.employees:
            n = base + (1 if rng.random() < frac else 0) + rng.choice((-1, 0, 0, 1))
            if n <= 0:
                continue
            total = rng.randrange(420, 545, 5)
            if rng.random() < 0.004:
                total = rng.randrange(13 * 60, 16 * 60, 15)  # EXCESSIVE_DAILY_HOURS
            cuts = sorted(rng.sample(range(1, total // 5), n - 1)) if n > 1 else []
            parts = [5 * (b - a) for a, b in zip([0, *cuts], [*cuts, total // 5], strict=True)]
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
            for minutes in parts:
                if minutes <= 0:
                    continue
                r = rng.random()
                billable = True
                plan = None
                if r < 0.003:
                    code = f"PRJ-9{rng.randrange(1000, 9999)}"  # a code the CRM never had
                elif r < 0.006 and emp.pool:
                    plan = plans[rng.choice(emp.pool)]  # possibly outside its dates
                    code = plan.project_code
                elif r < 0.09 or not active:
                    code, billable = rng.choice(INTERNAL_CODES), False
                else:
                    k = bisect.bisect_right(cum, rng.randrange(cum[-1]))
                    plan = plans[active[k][0]]
                    code = plan.project_code
                    billable = rng.random() > 0.03
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
                    str(next_id),
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
                next_id += 1
                yield row
                if rng.random() < 0.003:  # the same work exported twice: DUPLICATE_ENTRY
                    dup = list(row)
                    dup[0] = str(next_id)
                    next_id += 1
                    yield dup
    firm.entries_written = next_id - 100000


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


def write_csv(path: Path, header: list[str], rows: Iterator[list[str]]) -> int:
    """Stream rows to `path` (RFC 4180, CRLF as csv writes it); returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


@dataclass(frozen=True)
class DemoFiles:
    firm: Firm
    agreements: Path
    entries: Path
    agreement_count: int
    entry_count: int


def write_demo_files(
    out_dir: Path, *, scale: str = "small", seed: int = 2026, end: dt.date
) -> DemoFiles:
    """Write agreements.csv and time_entries.csv for a firm whose time ends on `end`."""
    firm = plan_firm(scale, seed=seed, end=end)
    entries = out_dir / "time_entries.csv"
    agreements = out_dir / "agreements.csv"
    n_entries = write_csv(entries, ENTRY_COLUMNS, time_entry_rows(firm))
    n_agreements = write_csv(agreements, AGREEMENT_COLUMNS, agreement_rows(firm))
    return DemoFiles(firm, agreements, entries, n_agreements, n_entries)
