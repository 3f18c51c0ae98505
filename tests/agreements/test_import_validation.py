"""Agreement import (SPEC 1.1, issue 3): one test per validation rule. Each names its line and
column and leaves the database unchanged (`rejected`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from agreements.models import Agreement, Milestone
from agreements.services import agreement_import
from invoicing.models import MilestoneBilling
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    InvoiceLineFactory,
    MilestoneFactory,
)
from tests.imports.data import agreement, agreements_csv, snapshot

pytestmark = pytest.mark.django_db


def where(result):
    return [(e.line, e.column) for e in result.errors]


def rejected(data: bytes, line: int, column: str, message: str | None = None):
    """Import `data`: exactly one error at (line, column), and nothing in the database changed."""
    before = snapshot()
    result = agreement_import(file=data)
    assert where(result) == [(line, column)], result.errors
    if message is not None:
        assert result.errors[0].message == message
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert snapshot() == before
    return result


# --- one test per validation rule --------------------------------------------------------------


def test_missing_required_column_rejects_the_file():
    data = b"Agreement ID,Account ID,Account Name,Agreement Type,Stage,Start Date\nAGR-1,ACC-1,Acme,Fixed Fee,Signed,2026-01-01\n"
    rejected(data, 1, "Project Code", "required column is missing from the header")


@pytest.mark.parametrize(
    "column",
    [
        "Agreement ID",
        "Account ID",
        "Account Name",
        "Project Code",
        "Agreement Type",
        "Stage",
        "Start Date",
    ],
)
def test_required_value_missing(column):
    rejected(
        agreements_csv(
            agreement(), agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2", column: ""})
        ),
        3,
        column,
        "is required",
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "Start Date",
            "2026/01/05",
            "'2026/01/05' is not a date in month/day/year order; it fits year/month/day: import "
            "with --date-order ymd",
        ),
        ("Start Date", "02/30/2026", "is not a real date, got '02/30/2026'"),
        ("End Date", "2025-12-31", "must not be before Start Date (2026-01-01)"),
        (
            "Agreement Type",
            "Retainer",
            "must be Time and Materials, Fixed Fee or Prepaid Hours, got 'Retainer'",
        ),
        (
            "Stage",
            "Won",
            "must be Signed (or Closed Won), Draft, or Cancelled (or Closed Lost), got 'Won'",
        ),
        ("Hours Sold", "-5", "must be greater than 0, got '-5'"),
        ("Hours Sold", "ten", "must be a number, got 'ten'"),
        (
            "Not To Exceed Hours",
            "1,5",
            "must be a number with a decimal point, got '1,5'; if the file writes decimal commas, "
            "import with --decimal comma",
        ),
        ("Hourly Rate", "150 per hour", "must be a number, got '150 per hour'"),
        (
            "Hourly Rate",
            "150.125",
            "has more than 2 decimal places, got '150.125'; if it is a European amount with a "
            "thousands dot, import with --decimal comma",
        ),
        (
            "Billing Increment",
            "7",
            "must be one of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60 minutes, got 7",
        ),
        ("Billing Increment", "quarter", "must be a whole number, got 'quarter'"),
        ("Currency", "usd", "must be a 3-letter ISO 4217 code in capitals such as USD, got 'usd'"),
        ("Currency", "ABC", "is not an ISO 4217 currency code, got 'ABC'"),
        ("Payment Terms", "30 days", "must be a whole number, got '30 days'"),
        ("Tax Rate", "101", "must be at most 100, got '101'"),
        ("Billing Email", "accounts at acme", "is not an e-mail address, got 'accounts at acme'"),
        (
            "Role Rates",
            "Engineer:150",
            "each entry must be Role=Rate (e.g. Engineer=150), got 'Engineer:150'",
        ),
        ("Role Rates", "Engineer=150; engineer=160", "role 'engineer' appears twice"),
        ("Role Rates", "Engineer=lots", "rate for 'Engineer' must be a number, got 'lots'"),
        ("Milestones", "Design:40", "only a Fixed Fee agreement has milestones"),
    ],
)
def test_field_format_rules(column, value, message):
    rejected(agreements_csv(agreement(**{column: value})), 2, column, message)


def test_time_and_materials_needs_a_rate():
    rejected(
        agreements_csv(agreement(**{"Hourly Rate": "", "Role Rates": ""})),
        2,
        "Hourly Rate",
        "a Time and Materials or Prepaid Hours agreement needs an Hourly Rate or Role Rates",
    )


def test_prepaid_hours_needs_a_rate_amount_and_hours():
    before = snapshot()
    result = agreement_import(
        file=agreements_csv(agreement(**{"Agreement Type": "Prepaid Hours", "Hourly Rate": ""}))
    )
    assert where(result) == [(2, "Hourly Rate"), (2, "Amount"), (2, "Hours Sold")]
    assert snapshot() == before


def fixed_fee(**values):
    return agreement(
        **{"Agreement Type": "Fixed Fee", "Amount": "10000", "Hourly Rate": "", **values}
    )


def test_fixed_fee_needs_an_amount():
    rejected(
        agreements_csv(fixed_fee(Amount="")), 2, "Amount", "is required for a Fixed Fee agreement"
    )


def test_amount_must_be_positive_money():
    rejected(agreements_csv(fixed_fee(Amount="0")), 2, "Amount", "must be greater than 0, got '0'")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "Design-40; Build-60",
            "each milestone must be Name:Percent[:YYYY-MM-DD], got 'Design-40'",
        ),
        ("Design:40; Build:50", "percents must sum to 100, they sum to 90"),
        ("Design:forty; Build:60", "percent of 'Design' must be a number, got 'forty'"),
        ("Design:0; Build:100", "percent of 'Design' must be greater than 0, got '0'"),
        ("Design:40:2026-02-30; Build:60", "date of 'Design' is not a real date, got '2026-02-30'"),
    ],
)
def test_milestone_syntax_and_sum(value, message):
    rejected(agreements_csv(fixed_fee(Milestones=value)), 2, "Milestones", message)


def test_repeated_agreement_id_in_one_file():
    rejected(
        agreements_csv(agreement(), agreement(**{"Project Code": "PRJ-2"})),
        3,
        "Agreement ID",
        "AGR-1 repeats line 2",
    )


def test_overlapping_signed_agreements_in_the_file():
    rejected(
        agreements_csv(
            agreement(**{"End Date": "2026-06-30"}),
            agreement(**{"Agreement ID": "AGR-2", "Start Date": "2026-06-30"}),
        ),
        3,
        "Project Code",
        "signed agreement AGR-1 (line 2, 2026-01-01 to 2026-06-30) already covers PRJ-1 on overlapping dates",
    )


def test_adjacent_and_unsigned_agreements_do_not_overlap():
    result = agreement_import(
        file=agreements_csv(
            agreement(**{"End Date": "2026-06-30"}),
            agreement(**{"Agreement ID": "AGR-2", "Start Date": "2026-07-01"}),
            agreement(**{"Agreement ID": "AGR-3", "Stage": "Draft"}),
        )
    )
    assert result.ok, result.errors


def test_overlap_with_an_agreement_already_imported():
    AgreementFactory(
        external_id="AGR-OLD", project_code="PRJ-1", start_date=dt.date(2025, 1, 1), end_date=None
    )
    rejected(
        agreements_csv(agreement(**{"Start Date": "2026-01-01"})),
        2,
        "Project Code",
        "signed agreement AGR-OLD (already imported, 2025-01-01 to open end) already covers PRJ-1 on overlapping dates",
    )


def test_overlap_is_judged_on_the_file_version_of_a_stored_agreement():
    AgreementFactory(
        external_id="AGR-OLD", project_code="PRJ-1", start_date=dt.date(2025, 1, 1), end_date=None
    )
    result = agreement_import(
        file=agreements_csv(
            agreement(
                **{"Agreement ID": "AGR-OLD", "Start Date": "2025-01-01", "End Date": "2025-12-31"}
            ),
            agreement(**{"Start Date": "2026-01-01"}),
        )
    )
    assert result.ok, result.errors
    assert (result.created, result.updated) == (1, 1)


def test_parent_must_exist():
    rejected(
        agreements_csv(agreement(**{"Parent Agreement ID": "AGR-404"})),
        2,
        "Parent Agreement ID",
        "agreement AGR-404 does not exist (not in this file and not imported before)",
    )


def test_parent_must_be_on_the_same_account():
    AgreementFactory(
        external_id="AGR-P", account=AccountFactory(external_id="ACC-OTHER"), project_code="PRJ-P"
    )
    rejected(
        agreements_csv(agreement(**{"Parent Agreement ID": "AGR-P"})),
        2,
        "Parent Agreement ID",
        "agreement AGR-P belongs to account ACC-OTHER, not ACC-1",
    )


def test_parent_must_be_in_the_same_currency():
    rejected(
        agreements_csv(
            agreement(**{"Agreement ID": "AGR-P", "Project Code": "PRJ-P", "Currency": "EUR"}),
            agreement(**{"Parent Agreement ID": "AGR-P"}),
        ),
        3,
        "Parent Agreement ID",
        "agreement AGR-P is in EUR, not USD",
    )


def test_parent_cannot_be_itself_or_loop():
    rejected(
        agreements_csv(agreement(**{"Parent Agreement ID": "AGR-1"})),
        2,
        "Parent Agreement ID",
        "an agreement cannot be its own parent",
    )
    before = snapshot()
    result = agreement_import(
        file=agreements_csv(
            agreement(**{"Parent Agreement ID": "AGR-2"}),
            agreement(
                **{"Agreement ID": "AGR-2", "Project Code": "PRJ-2", "Parent Agreement ID": "AGR-1"}
            ),
        )
    )
    assert where(result) == [(2, "Parent Agreement ID"), (3, "Parent Agreement ID")]
    assert result.errors[0].message == "the parent chain loops back to AGR-1"
    assert snapshot() == before


def test_account_name_must_agree_within_a_file():
    rejected(
        agreements_csv(
            agreement(),
            agreement(
                **{"Agreement ID": "AGR-2", "Project Code": "PRJ-2", "Account Name": "ACME Limited"}
            ),
        ),
        3,
        "Account Name",
        "differs from line 2 for account ACC-1 ('Acme Ltd')",
    )


def billed_fixed_fee():
    ag = AgreementFactory(
        external_id="AGR-1",
        account=AccountFactory(
            external_id="ACC-1", name="Acme Ltd", billing_email="ap@acme.example"
        ),
        project_code="PRJ-1",
        agreement_type=Agreement.Type.FIXED_FEE,
        amount=Decimal("10000.00"),
        hourly_rate=None,
    )
    design = MilestoneFactory(
        agreement=ag,
        position=1,
        name="Design",
        percent=Decimal("40"),
        due_date=dt.date(2026, 2, 28),
    )
    MilestoneFactory(agreement=ag, position=2, name="Build", percent=Decimal("60"), due_date=None)
    line = InvoiceLineFactory(agreement=ag, kind="milestone", amount=Decimal("4000.00"))
    MilestoneBilling.objects.create(milestone=design, invoice=line.invoice, line=line)
    return ag


def test_billed_milestone_cannot_change():
    billed_fixed_fee()
    rejected(
        agreements_csv(fixed_fee(Milestones="Design:50:2026-02-28; Build:50")),
        2,
        "Milestones",
        "milestone 'Design' is already billed and cannot change (percent 40 -> 50)",
    )


def test_billed_milestone_allows_changes_to_unbilled_ones():
    billed_fixed_fee()
    result = agreement_import(
        file=agreements_csv(fixed_fee(Milestones="Design:40:2026-02-28; Build:60:2026-09-30"))
    )
    assert (result.updated, result.errors) == (1, [])
    assert Milestone.objects.get(position=2).due_date == dt.date(2026, 9, 30)


def test_fixed_fee_amount_cannot_change_once_a_milestone_is_billed():
    billed_fixed_fee()
    rejected(
        agreements_csv(fixed_fee(Amount="12000", Milestones="Design:40:2026-02-28; Build:60")),
        2,
        "Amount",
        "cannot change from USD 10,000.00 because milestones of this agreement are already billed",
    )


def test_every_problem_is_listed_in_line_order():
    data = agreements_csv(
        agreement(**{"Currency": "usd", "Billing Increment": "7"}),
        agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2", "Stage": "?"}),
        agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-3"}),
    )
    result = agreement_import(file=data)
    assert where(result) == [(2, "Billing Increment"), (2, "Currency"), (3, "Stage")]
    assert not Agreement.objects.exists()
