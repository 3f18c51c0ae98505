"""Agreement import (SPEC 1.1, issue 3): a good file, re-imports that are idempotent, changes
written with history, and the command. The validation rules: test_import_validation.py."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from agreements.models import Account, Agreement, Milestone, RoleRate
from agreements.services import agreement_import, agreement_import_rows
from tests.imports.data import agreement, agreements_csv, snapshot

pytestmark = pytest.mark.django_db


# --- a good file -------------------------------------------------------------------------------


def test_import_creates_agreements_with_every_field(billing_admin):
    data = agreements_csv(
        agreement(
            **{
                "Hours Sold": "100",
                "Not To Exceed Hours": "120.5",
                "Role Rates": "Engineer=150; Project Manager = 175.50;",
                "Billing Increment": "6",
                "Currency": "EUR",
                "Payment Terms": "45",
                "PO Number": "PO-9",
                "Tax Rate": "8.25",
                "End Date": "12/31/2026",
            }
        ),
        agreement(
            **{
                "Agreement ID": "AGR-2",
                "Parent Agreement ID": "AGR-1",
                "Project Code": "PRJ-2",
                "Agreement Type": "Fixed Fee",
                "Stage": "Closed Won",
                "Start Date": "01/15/2026",
                "Amount": "10000",
                "Hourly Rate": "",
                "Currency": "EUR",
                "Milestones": "Design:40:2026-02-28; Build:60",
            }
        ),
        agreement(
            **{
                "Agreement ID": "AGR-3",
                "Account ID": "ACC-2",
                "Account Name": "Globex",
                "Billing Email": "",
                "Project Code": "PRJ-3",
                "Agreement Type": "prepaid hours",
                "Stage": "Closed Lost",
                "Amount": "7500.00",
                "Hours Sold": "50",
            }
        ),
    )
    result = agreement_import(file=data, user=billing_admin)
    assert result.ok, result.errors
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)

    a1 = Agreement.objects.get(external_id="AGR-1")
    assert a1.account.external_id == "ACC-1"
    assert a1.account.name == "Acme Ltd"
    assert a1.account.billing_email == "ap@acme.example"
    assert a1.agreement_type == Agreement.Type.TIME_AND_MATERIALS
    assert a1.stage == Agreement.Stage.SIGNED
    assert (a1.start_date, a1.end_date) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert a1.hours_sold == Decimal("100.00")
    assert a1.not_to_exceed_hours == Decimal("120.50")
    assert a1.hourly_rate == Decimal("150.00")
    assert (a1.billing_increment, a1.currency, a1.payment_terms) == (6, "EUR", 45)
    assert (a1.po_number, a1.tax_rate) == ("PO-9", Decimal("8.250"))
    assert sorted(a1.role_rates.values_list("role", "role_key", "rate")) == [
        ("Engineer", "engineer", Decimal("150.00")),
        ("Project Manager", "project manager", Decimal("175.50")),
    ]
    assert not a1.milestones.exists()

    a2 = Agreement.objects.get(external_id="AGR-2")
    assert a2.parent == a1
    assert a2.stage == Agreement.Stage.SIGNED
    assert a2.start_date == dt.date(2026, 1, 15)
    assert list(a2.milestones.values_list("position", "name", "percent", "due_date")) == [
        (1, "Design", Decimal("40.000"), dt.date(2026, 2, 28)),
        (2, "Build", Decimal("60.000"), None),
    ]

    a3 = Agreement.objects.get(external_id="AGR-3")
    assert a3.stage == Agreement.Stage.CANCELLED
    assert a3.agreement_type == Agreement.Type.PREPAID_HOURS
    # Defaults of SPEC 1.1.
    assert (a3.billing_increment, a3.currency, a3.payment_terms, a3.tax_rate) == (15, "USD", 30, 0)
    assert a3.account.billing_email == ""

    # History names the user.
    for model in (Account, Agreement, RoleRate, Milestone):
        records = model.history.all()
        assert records.exists()
        assert {h.history_user for h in records} == {billing_admin}
        assert {h.history_type for h in records} == {"+"}


def test_fixed_fee_without_milestones_stores_one_full_milestone_on_start_date():
    data = agreements_csv(
        agreement(
            **{
                "Agreement Type": "Fixed Fee",
                "Amount": "5000",
                "Hourly Rate": "",
                "Start Date": "2026-03-01",
            }
        )
    )
    assert agreement_import(file=data).ok
    ms = Milestone.objects.get()
    assert (ms.position, ms.name, ms.percent, ms.due_date) == (
        1,
        "Fixed fee",
        Decimal("100"),
        dt.date(2026, 3, 1),
    )


def test_reimport_of_the_same_file_changes_nothing(billing_admin):
    data = agreements_csv(
        agreement(**{"Role Rates": "Engineer=150"}),
        agreement(
            **{
                "Agreement ID": "AGR-2",
                "Project Code": "PRJ-2",
                "Agreement Type": "Fixed Fee",
                "Amount": "900",
                "Milestones": "A:50;B:50:2026-05-01",
            }
        ),
    )
    first = agreement_import(file=data, user=billing_admin)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    before = snapshot()
    again = agreement_import(file=data, user=billing_admin)
    assert again.ok
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot() == before  # no history rows either


def test_changed_row_is_updated_with_history(billing_admin, services_manager):
    agreement_import(
        file=agreements_csv(
            agreement(**{"Role Rates": "Engineer=150"}),
            agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2"}),
        ),
        user=billing_admin,
    )
    result = agreement_import(
        file=agreements_csv(
            agreement(**{"Hourly Rate": "160", "Role Rates": "Engineer=155; Architect=200"}),
            agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2"}),
        ),
        user=services_manager,
    )
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    a1 = Agreement.objects.get(external_id="AGR-1")
    assert a1.hourly_rate == Decimal("160.00")
    latest = a1.history.first()
    assert (latest.history_type, latest.history_user, latest.hourly_rate) == (
        "~",
        services_manager,
        Decimal("160.00"),
    )
    assert latest.prev_record.hourly_rate == Decimal("150.00")
    assert sorted(a1.role_rates.values_list("role_key", "rate")) == [
        ("architect", Decimal("200.00")),
        ("engineer", Decimal("155.00")),
    ]
    assert RoleRate.history.filter(history_user=services_manager).count() == 2
    assert Agreement.objects.get(external_id="AGR-2").history.count() == 1


def test_removed_role_rate_and_type_change_delete_with_history(billing_admin):
    agreement_import(file=agreements_csv(agreement(**{"Role Rates": "Engineer=150"})))
    result = agreement_import(
        file=agreements_csv(agreement(**{"Role Rates": ""})), user=billing_admin
    )
    assert (result.updated, result.unchanged) == (1, 0)
    assert not RoleRate.objects.exists()
    assert RoleRate.history.filter(history_type="-", history_user=billing_admin).count() == 1


def test_dry_run_counts_but_writes_nothing():
    agreement_import(file=agreements_csv(agreement()))
    before = snapshot()
    result = agreement_import(
        file=agreements_csv(
            agreement(**{"Hourly Rate": "175"}),
            agreement(
                **{
                    "Agreement ID": "AGR-9",
                    "Project Code": "PRJ-9",
                    "Account ID": "ACC-9",
                    "Account Name": "New Co",
                }
            ),
        ),
        dry_run=True,
    )
    assert result.ok and result.dry_run
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert snapshot() == before


def test_json_rows_variant_uses_index_plus_two_as_line():
    rows = [
        agreement(),
        agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2", "Start Date": "2026-13-01"}),
    ]
    before = snapshot()
    result = agreement_import_rows(rows=rows)
    assert [(e.line, e.column) for e in result.errors] == [(3, "Start Date")]
    assert snapshot() == before
    rows[1]["Start Date"] = "2026-02-01"
    rows[1]["hourly rate"] = 175  # keys match case-insensitively; numbers are accepted
    del rows[1]["Hourly Rate"]
    result = agreement_import_rows(rows=rows)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert Agreement.objects.get(external_id="AGR-2").hourly_rate == Decimal("175.00")


# --- the command -------------------------------------------------------------------------------


def test_command_exit_codes_and_json(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(agreements_csv(agreement()))
    call_command("import_agreements", str(good), "--json")
    out = capsys.readouterr().out
    assert json.loads(out) == {"created": 1, "updated": 0, "unchanged": 0, "errors": []}

    call_command("import_agreements", str(good))
    assert capsys.readouterr().out.strip().splitlines() == [
        "Imported agreements: 0 created, 0 updated, 1 unchanged",
        "Source: Billable (SPEC 1.1) (detected from the header).",
    ]

    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        agreements_csv(
            agreement(**{"Hourly Rate": "x"}), agreement(**{"Agreement ID": "AGR-2", "Stage": ""})
        )
    )
    before = snapshot()
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_agreements", str(bad), "--json")
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "errors": [
            {"line": 2, "column": "Hourly Rate", "message": "must be a number, got 'x'"},
            {"line": 3, "column": "Stage", "message": "is required"},
        ],
    }
    assert captured.err.splitlines() == [
        "line 2: Hourly Rate: must be a number, got 'x'",
        "line 3: Stage: is required",
    ]
    assert snapshot() == before


def test_command_usage_errors_exit_2(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "manage.py", "import_agreements", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "no such file" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "manage.py", "import_agreements"], capture_output=True, text=True
    )
    assert proc.returncode == 2
