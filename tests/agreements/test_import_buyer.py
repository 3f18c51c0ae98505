"""Buyer and VAT columns of the agreement import (SPEC 1.1, issue 14): stored on the account and
agreement, checked per row and across the rows of one account, shown in the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from agreements.models import Account, Agreement
from agreements.services import agreement_import
from tests.imports.data import agreement, agreements_csv, snapshot

pytestmark = pytest.mark.django_db

BUYER = {
    "Agreement Name": "Website relaunch",
    "Billing Address": "Accounts Payable; Hauptstrasse 5",
    "Billing City": "Berlin",
    "Billing Postal Code": "10115",
    "Billing Country": "de",
    "Buyer VAT ID": "de 123 456 789",
    "Buyer Reference": "04011000-12345-34",
    "Tax Rate": "19",
}


def errors_of(data: bytes) -> list[tuple[int, str, str]]:
    before = snapshot()
    result = agreement_import(file=data)
    assert snapshot() == before
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    return [(e.line, e.column, e.message) for e in result.errors]


def test_buyer_columns_are_stored_on_the_account_and_agreement():
    result = agreement_import(file=agreements_csv(agreement(**BUYER)))
    assert result.errors == [] and result.created == 1
    account = Account.objects.get(external_id="ACC-1")
    assert account.billing_address == "Accounts Payable\nHauptstrasse 5"
    assert (account.billing_city, account.billing_postal_code, account.billing_country) == (
        "Berlin",
        "10115",
        "DE",
    )
    assert account.buyer_vat_id == "DE123456789"
    assert account.buyer_reference == "04011000-12345-34"
    ag = Agreement.objects.get(external_id="AGR-1")
    assert (ag.name, ag.tax_category, ag.tax_exemption_reason) == ("Website relaunch", "S", "")
    assert ag.display_name == "Website relaunch"
    # The same file again changes nothing.
    again = agreement_import(file=agreements_csv(agreement(**BUYER)))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_address_lines_may_be_separated_by_a_written_backslash_n():
    agreement_import(file=agreements_csv(agreement(**{"Billing Address": "Unit 4\\n1 Main St"})))
    assert Account.objects.get().billing_address == "Unit 4\n1 Main St"


def test_tax_category_defaults_by_rate_and_reverse_charge_needs_a_reason():
    result = agreement_import(
        file=agreements_csv(
            agreement(**{"Tax Rate": "0"}),
            agreement(**{"Agreement ID": "AGR-2", "Project Code": "P2", "Tax Rate": "8.25"}),
            agreement(
                **{
                    "Agreement ID": "AGR-3",
                    "Project Code": "P3",
                    "Tax Category": "ae",
                    "Tax Exemption Reason": "Reverse charge",
                }
            ),
        )
    )
    assert result.errors == []
    got = dict(Agreement.objects.values_list("external_id", "tax_category"))
    assert got == {"AGR-1": "Z", "AGR-2": "S", "AGR-3": "AE"}
    assert Agreement.objects.get(external_id="AGR-3").tax_exemption_reason == "Reverse charge"


@pytest.mark.parametrize(
    "values, column, message",
    [
        ({"Tax Category": "X"}, "Tax Category", "must be one of S, Z, E, AE, K, G, O, got 'X'"),
        ({"Tax Category": "E"}, "Tax Exemption Reason", "is required for Tax Category E"),
        (
            {"Tax Category": "S", "Tax Rate": "0"},
            "Tax Category",
            "S (standard rate) needs a Tax Rate above 0",
        ),
        (
            {"Tax Category": "K", "Tax Rate": "19", "Tax Exemption Reason": "Intra-EU"},
            "Tax Category",
            "K is charged at 0%, but Tax Rate is 19",
        ),
        (
            {"Tax Rate": "19", "Tax Exemption Reason": "why"},
            "Tax Exemption Reason",
            "applies only to Tax Category AE, E, G, K, O",
        ),
        (
            {"Billing Country": "XX"},
            "Billing Country",
            "must be an ISO 3166-1 alpha-2 code (e.g. DE), got 'XX'",
        ),
        (
            {"Buyer VAT ID": "D" * 41},
            "Buyer VAT ID",
            "must be at most 40 characters (it has 41)",
        ),
    ],
)
def test_tax_and_buyer_cell_rules(values, column, message):
    assert errors_of(agreements_csv(agreement(**values))) == [(2, column, message)]


@pytest.mark.parametrize(
    "column, first, second",
    [
        ("Billing Address", "1 Main St", "2 Main St"),
        ("Billing City", "Berlin", "Bonn"),
        ("Billing Postal Code", "10115", "10117"),
        ("Billing Country", "DE", "AT"),
        ("Buyer VAT ID", "DE123456789", "DE999999999"),
        ("Buyer Reference", "REF-1", "REF-2"),
    ],
)
def test_account_columns_must_agree_across_rows_of_one_account(column, first, second):
    data = agreements_csv(
        agreement(**{column: first}),
        agreement(**{"Agreement ID": "AGR-2", "Project Code": "P2", column: ""}),
        agreement(**{"Agreement ID": "AGR-3", "Project Code": "P3", column: second}),
    )
    assert errors_of(data) == [
        (4, column, f"differs from line 2 for account ACC-1 ({first!r})"),
    ]


def test_a_row_that_leaves_an_account_column_empty_takes_the_filled_one():
    data = agreements_csv(
        agreement(**{"Buyer VAT ID": ""}),
        agreement(**{"Agreement ID": "AGR-2", "Project Code": "P2", "Buyer VAT ID": "ATU1234567"}),
    )
    assert agreement_import(file=data).errors == []
    assert Account.objects.get().buyer_vat_id == "ATU1234567"


def test_api_shows_the_new_columns(billing_admin):
    agreement_import(file=agreements_csv(agreement(**BUYER)))
    client = APIClient()
    client.force_authenticate(billing_admin)
    account = client.get("/api/v1/accounts/ACC-1/").json()
    assert account["billing_address"] == "Accounts Payable\nHauptstrasse 5"
    assert account["buyer_vat_id"] == "DE123456789"
    assert account["billing_country"] == "DE"
    ag = client.get("/api/v1/agreements/AGR-1/").json()
    assert (ag["name"], ag["tax_category"], ag["tax_exemption_reason"]) == (
        "Website relaunch",
        "S",
        "",
    )
    assert Decimal(ag["tax_rate"]) == Decimal("19")
