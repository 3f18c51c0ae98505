"""Upload pages: file -> dry-run preview (counts and every error) -> confirm -> import (issue 3)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agreements.models import Agreement
from tests.browser import log_in
from tests.imports.data import agreement, agreements_csv, entries_csv, entry, snapshot
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
URL = "/agreements/import/"


def upload(client, data: bytes, url: str = URL, name: str = "export.csv"):
    return client.post(url, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def token_of(response) -> str:
    return re.search(rb'name="token" value="([^"]+)"', response.content).group(1).decode()


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("billing_admin", 200),
        ("services_manager", 200),
        ("finance", 403),
        ("auditor", 403),
        ("outsider", 403),
    ],
)
def test_who_may_import(request, client_for, persona, status):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(URL).status_code == status
    assert client.get(reverse("timesheets:import")).status_code == status


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_nav_shows_import_to_importers_only(client_for, billing_admin, finance):
    assert b'href="/agreements/import/">Import</a>' in client_for(billing_admin).get(URL).content
    assert (
        b"/agreements/import/" not in client_for(finance).get(reverse("receivables:aging")).content
    )


def test_bad_file_lists_every_error_and_writes_nothing(client_for, billing_admin):
    client = client_for(billing_admin)
    before = snapshot()
    response = upload(
        client,
        agreements_csv(
            agreement(Currency="usd"), agreement(**{"Agreement ID": "AGR-2", "Stage": "Won"})
        ),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was written" in body
    assert '<td class="num">2</td><td>Currency</td>' in body
    assert '<td class="num">3</td><td>Stage</td>' in body
    assert 'name="token"' not in body  # no confirm for a file with errors
    assert snapshot() == before


def test_preview_then_confirm_imports_with_the_users_history(client_for, billing_admin):
    client = client_for(billing_admin)
    before = snapshot()
    response = upload(
        client,
        agreements_csv(
            agreement(), agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2"})
        ),
    )
    assert re.search(rb'data-count="created">2<', response.content)
    assert snapshot() == before  # the preview is a dry run
    response = client.post(URL, {"token": token_of(response), "confirm": "1"}, follow=True)
    assert (
        b"Imported agreements from export.csv: 2 created, 0 updated, 0 unchanged."
        in response.content
    )
    assert Agreement.objects.count() == 2
    assert {h.history_user for h in Agreement.history.all()} == {billing_admin}
    # The token is used up: confirming again does nothing.
    again = client.post(URL, {"token": "anything", "confirm": "1"}, follow=True)
    assert b"expired or was already imported" in again.content
    assert Agreement.history.count() == 2


def test_token_from_another_session_is_refused(client_for, billing_admin, services_manager):
    response = upload(client_for(billing_admin), agreements_csv(agreement()))
    other = client_for(services_manager).post(
        URL, {"token": token_of(response), "confirm": "1"}, follow=True
    )
    assert b"expired or was already imported" in other.content
    assert not Agreement.objects.exists()


def test_cancel_discards_the_upload(client_for, billing_admin):
    client = client_for(billing_admin)
    response = upload(client, agreements_csv(agreement()))
    response = client.post(URL, {"token": token_of(response), "cancel": "1"}, follow=True)
    assert b"Import cancelled" in response.content
    assert not Agreement.objects.exists()


def test_upload_over_the_limit_is_refused(client_for, billing_admin, settings):
    settings.BILLING_IMPORT_MAX_BYTES = 100
    response = upload(
        client_for(billing_admin),
        agreements_csv(agreement(), agreement(**{"Agreement ID": "AGR-2"})),
    )
    assert response.status_code == 400
    assert re.search(rb"The file is \d+ bytes; the import limit is 100 bytes.", response.content)
    assert not Agreement.objects.exists()


def test_time_entry_page_confirms_and_reports_flags(client_for, services_manager):
    client = client_for(services_manager)
    url = reverse("timesheets:import")
    response = upload(client, entries_csv(entry()), url=url)
    response = client.post(url, {"token": token_of(response), "confirm": "1"}, follow=True)
    assert (
        b"Imported time entries from export.csv: 1 created, 0 updated, 0 unchanged."
        in response.content
    )
    TimeEntry.objects.update(locked=True)
    response = upload(client, entries_csv(entry(Hours="3")), url=url)
    assert b"CHANGED_AFTER_INVOICING: Hours 1.5 -&gt; 3" in response.content
    assert TimeEntry.history.get().history_user == services_manager


def test_time_entry_preview_shows_the_first_20_rows_and_imports_them_all(client_for, billing_admin):
    client = client_for(billing_admin)
    url = reverse("timesheets:import")
    data = entries_csv(*[entry(**{"Entry ID": str(100 + i), "Hours": f"{1 + i / 4}"})
                         for i in range(25)])  # fmt: skip
    response = upload(client, data, url=url)
    assert b'<div class="value" data-count="created">25</div>' in response.content
    table = re.search(rb'<table class="preview-rows">(.*?)</table>', response.content, re.S)
    assert b"The first 20 rows as they will be stored" in table.group(1)
    body = re.search(rb"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)
    rows = [re.findall(rb"<td[^>]*>(.*?)</td>", r, re.S) for r in re.findall(rb"<tr>(.*?)</tr>",
                                                                            body, re.S)]  # fmt: skip
    # Lines 2..21 of the file, as stored: Entry ID and decimal hours.
    assert [(r[0], r[1], r[8]) for r in rows] == [
        (str(i + 2).encode(), str(100 + i).encode(), f"{1 + i / 4}".encode()) for i in range(20)
    ]
    assert not TimeEntry.objects.exists()
    client.post(url, {"token": token_of(response), "confirm": "1"})
    assert TimeEntry.objects.count() == 25


@pytest.mark.browser
def test_upload_page_in_the_browser(page, live_server, billing_admin, tmp_path):
    log_in(page, billing_admin)
    page.click("nav >> text=Import")
    assert page.locator("h1").inner_text() == "Import agreements"

    bad = agreements_csv(
        agreement(**{"Billing Increment": "7"}),
        agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2", "Start Date": "2026-02-30"}),
    )
    page.set_input_files(
        "input[type=file]", {"name": "crm.csv", "mimeType": "text/csv", "buffer": bad}
    )
    page.click("text=Check file")
    rows = page.locator("table.import-errors tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t") == [
        "2",
        "Billing Increment",
        "must be one of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60 minutes, got 7",
    ]
    assert rows.nth(1).inner_text().split("\t") == [
        "3",
        "Start Date",
        "is not a real date, got '2026-02-30'",
    ]
    assert page.locator("button", has_text="Import agreements").count() == 0

    good = agreements_csv(
        agreement(), agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2"})
    )
    page.set_input_files(
        "input[type=file]", {"name": "crm.csv", "mimeType": "text/csv", "buffer": good}
    )
    page.click("text=Check file")
    assert page.locator("[data-count=created]").inner_text() == "2"
    assert page.locator("[data-count=errors]").inner_text() == "0"
    assert not Agreement.objects.exists()
    page.click("button:has-text('Import agreements')")
    page.wait_for_selector(".messages li.success")
    assert (
        page.locator(".messages li.success").inner_text()
        == "Imported agreements from crm.csv: 2 created, 0 updated, 0 unchanged."
    )
    assert sorted(Agreement.objects.values_list("external_id", flat=True)) == ["AGR-1", "AGR-2"]
