"""`reconcile` and `export_flags` (SPEC 5)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.factories import AgreementFactory, FlagFactory, TimeEntryFactory
from timesheets.models import Flag, ReconciliationRun

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_reconcile_prints_counts_by_code():
    TimeEntryFactory(external_id="1", project_code="NOPE")
    TimeEntryFactory(external_id="2", project_code="NOPE")
    AgreementFactory(external_id="AGR-1", project_code="P1", start_date=dt.date(2026, 1, 1))
    out = io.StringIO()
    call_command("reconcile", "--as-of", "2026-03-15", stdout=out)
    assert out.getvalue() == (
        "Reconciliation as of 2026-03-15: 3 opened, 0 resolved, 3 open.\n"
        "Open flags by code:\n"
        "  NOT_STARTED   1\n"
        "  NO_AGREEMENT  2\n"
    )
    out = io.StringIO()
    call_command("reconcile", "--as-of", "03/15/2026", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "as_of": "2026-03-15",
        "run_id": ReconciliationRun.objects.first().pk,
        "opened": 0,
        "resolved": 0,
        "open_total": 3,
        "open_by_code": {"NOT_STARTED": 1, "NO_AGREEMENT": 2},
    }


def test_reconcile_bad_date_exits_2_and_changes_nothing():
    TimeEntryFactory(external_id="1", project_code="NOPE")
    result = subprocess.run(
        [sys.executable, "manage.py", "reconcile", "--as-of", "2026-02-30"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--as-of" in result.stderr and "2026-02-30" in result.stderr
    assert Flag.objects.count() == 0
    assert ReconciliationRun.objects.count() == 0


def flags_fixture():
    agr = AgreementFactory(external_id="AGR-7", project_code="=cmd|calc")
    e1 = TimeEntryFactory(external_id="10", project_code="=cmd|calc")
    e2 = TimeEntryFactory(external_id="-5", project_code="PRJ")
    FlagFactory(
        code="OVER_CAP",
        entry=e1,
        agreement=agr,
        hours=Decimal("1.5000"),
        detail='@SUM(A1) "quoted", comma',
    )
    FlagFactory(
        code="NO_AGREEMENT",
        entry=e2,
        hours=Decimal("12.0167"),
        status="written_off",
        reason="internal",
        detail="+1 no agreement",
    )
    FlagFactory(
        code="NOT_STARTED",
        entry=None,
        subject="AGR-7",
        agreement=agr,
        project_code="P",
        hours=None,
        detail="\tstarted",
    )


def test_export_flags_csv_columns_order_and_neutralising():
    flags_fixture()
    out = io.StringIO()
    call_command("export_flags", stdout=out)
    assert out.getvalue() == (
        "code,status,subject,agreement_id,project_code,hours,detail\r\n"
        "NOT_STARTED,open,AGR-7,AGR-7,P,,'\tstarted\r\n"
        "NO_AGREEMENT,written_off,-5,,PRJ,12.0167,'+1 no agreement\r\n"
        'OVER_CAP,open,10,AGR-7,\'=cmd|calc,1.50,"\'@SUM(A1) ""quoted"", comma"\r\n'
    )
    out = io.StringIO()
    call_command("export_flags", "--status", "open", stdout=out)
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == [
        "code",
        "NOT_STARTED",
        "OVER_CAP",
    ]


def test_export_flags_json():
    flags_fixture()
    out = io.StringIO()
    call_command("export_flags", "--format", "json", "--status", "written_off", stdout=out)
    assert json.loads(out.getvalue()) == [
        {
            "code": "NO_AGREEMENT",
            "status": "written_off",
            "subject": "-5",
            "agreement_id": None,
            "project_code": "PRJ",
            "hours": "12.0167",
            "detail": "+1 no agreement",
        }
    ]
    out = io.StringIO()
    call_command("export_flags", "--format", "json", "--status", "released", stdout=out)
    assert json.loads(out.getvalue()) == []


def test_export_flags_bad_status_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "manage.py", "export_flags", "--status", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_neutralize_keeps_numbers():
    from timesheets.exports import neutralize, plain_hours

    assert neutralize("-5") == "-5"
    assert neutralize("+1.5") == "+1.5"
    assert neutralize("-x") == "'-x"
    assert neutralize("\rA") == "'\rA"
    assert neutralize("ok") == "ok"
    assert plain_hours(Decimal("8.0000")) == "8.00"
    assert plain_hours(Decimal("0.2500")) == "0.25"
    assert plain_hours(Decimal("12.0167")) == "12.0167"
