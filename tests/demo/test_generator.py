"""The demo firm generator (demo/generator.py): deterministic, SPEC-shaped, with every exception."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal

from demo import generator as demo

END = dt.date(2026, 6, 30)


def _read(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    a = demo.write_demo_files(tmp_path / "a", scale="small", seed=7, end=END)
    b = demo.write_demo_files(tmp_path / "b", scale="small", seed=7, end=END)
    c = demo.write_demo_files(tmp_path / "c", scale="small", seed=8, end=END)
    assert a.entries.read_bytes() == b.entries.read_bytes()
    assert a.agreements.read_bytes() == b.agreements.read_bytes()
    assert a.entries.read_bytes() != c.entries.read_bytes()


def test_small_firm_has_spec_columns_every_agreement_kind_and_every_exception(tmp_path):
    files = demo.write_demo_files(tmp_path, scale="small", seed=2026, end=END)
    agreements = _read(files.agreements)
    entries = _read(files.entries)
    assert list(agreements[0]) == demo.AGREEMENT_COLUMNS
    assert list(entries[0]) == demo.ENTRY_COLUMNS
    assert len(agreements) == 56 == files.agreement_count
    assert len(entries) == files.entry_count
    assert 3_600 <= len(entries) <= 4_400  # target 4,000

    assert {a["Agreement Type"] for a in agreements} == {
        "Time and Materials",
        "Fixed Fee",
        "Prepaid Hours",
    }
    stages = Counter(a["Stage"] for a in agreements)
    assert stages["Signed"] + stages["Closed Won"] > 40
    assert stages["Draft"] + stages["Cancelled"] + stages["Closed Lost"] >= 1
    assert {a["Currency"] or "USD" for a in agreements} == {"USD", "EUR"}
    assert any(a["Parent Agreement ID"] for a in agreements)
    assert any(a["PO Number"] for a in agreements)
    assert any(a["Tax Rate"] for a in agreements)
    assert any(a["Not To Exceed Hours"] for a in agreements)
    assert any(a["Role Rates"] and not a["Hourly Rate"] for a in agreements)  # missing rates
    fixed = [a for a in agreements if a["Agreement Type"] == "Fixed Fee"]
    for a in fixed:
        assert Decimal(a["Amount"]) > 0
        if a["Milestones"]:
            assert sum(int(p.split(":")[1]) for p in a["Milestones"].split("; ")) == 100
    by_id = {a["Agreement ID"]: a for a in agreements}
    for a in agreements:
        if a["Parent Agreement ID"]:
            parent = by_id[a["Parent Agreement ID"]]
            assert parent["Account ID"] == a["Account ID"]
            assert list(by_id).index(parent["Agreement ID"]) < list(by_id).index(a["Agreement ID"])

    known = {a["Project Code"] for a in agreements}
    codes = {e["Project Code"] for e in entries}
    assert codes - known - set(demo.INTERNAL_CODES)  # hours on codes the CRM never had
    assert any(e["Approved"].lower() in ("no", "false", "0", "n") for e in entries)
    assert any(e["Hours"].count(":") == 1 for e in entries)  # H:MM
    assert any("/" in e["Date"] for e in entries)  # US dates
    day_minutes: Counter = Counter()
    for e in entries:
        h = e["Hours"]
        minutes = (
            (int(h.split(":")[0]) * 60 + int(h.split(":")[1])) if ":" in h else int(Decimal(h) * 60)
        )
        assert 0 < minutes <= 24 * 60
        day_minutes[(e["Employee ID"], e["Date"])] += minutes
    assert max(day_minutes.values()) > 12 * 60
    dup_keys = Counter(
        (e["Employee ID"], e["Date"], e["Project Code"], e["Hours"], e["Notes"].strip().lower())
        for e in entries
    )
    assert max(dup_keys.values()) >= 2
    ids = [int(e["Entry ID"]) for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_payments_pay_part_of_the_invoices_by_reference_or_not(tmp_path):
    invoices = [
        demo.OpenInvoice(
            f"INV-2026-{n:05d}",
            f"C{n % 5:05d}",
            "USD",
            Decimal("1000.00") + n,
            dt.date(2026, 1, 31),
            dt.date(2026, 3, 2),
        )
        for n in range(1, 80)
    ]
    rows = list(demo.payment_rows(invoices, seed=1, as_of=dt.date(2026, 9, 1)))
    assert rows == list(demo.payment_rows(invoices, seed=1, as_of=dt.date(2026, 9, 1)))
    assert 30 < len(rows) < 79
    assert all(Decimal(r[3]) > 0 and r[1] <= "2026-09-01" for r in rows)
    assert any("INV-2026-" in r[5] for r in rows)
    assert any("INV-" not in r[5] for r in rows)
    assert not list(demo.payment_rows(invoices, seed=1, as_of=dt.date(2026, 1, 31)))
