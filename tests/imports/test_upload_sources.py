"""Upload pages with sources (SPEC 1.4): source choice, the preview of stored rows and warnings,
the mapping form for an unknown header (saved and offered next time), the import history and
undo; the mapping-form flow also in headless Chromium."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import ImportRecord, SavedMapping
from tests.browser import log_in
from tests.imports.data import snapshot
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
URL = "/time/import/"
UNKNOWN = b"Ref,Day,Person,Job,Time,Chargeable\nA1,03/11/2026,ann,P1,1:15,oui\nA2,03/12/2026,bo,P1,2,non\n"


def upload(client, data: bytes, name: str = "export.csv", **fields):
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(URL, {"file": file, "source": "auto", **fields})


def token_of(response) -> str:
    return re.search(rb'name="token" value="([^"]+)"', response.content).group(1).decode()


def cells(response, selector: str) -> list[list[str]]:
    table = re.search(rf'<table class="{selector}">(.*?)</table>'.encode(), response.content, re.S)
    body = re.search(rb"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)
    rows = re.findall(rb"<tr>(.*?)</tr>", body, re.S)
    return [[c.decode() for c in re.findall(rb"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def test_harvest_preview_shows_stored_rows_and_warnings_then_imports(client_for, billing_admin):
    client = client_for(billing_admin)
    response = upload(client, (FIXTURES / "harvest.csv").read_bytes(), name="harvest.csv")
    body = response.content.decode()
    assert "Source: Harvest detailed time report (detected from the header)." in body
    assert "Entries name Project Codes that no agreement has: ACME-WEB (1), Internal (1)" in body
    rows = cells(response, "preview-rows")
    assert len(rows) == 3
    assert rows[0][2:] == ["2026-11-02", "Ann Smith", "Ann Smith", "Designer", "ACME-WEB", "Design",
                           "3.5", "yes", "yes", "Homepage, second round"]  # fmt: skip
    assert rows[0][1].startswith("harvest:")
    assert not TimeEntry.objects.exists()
    response = client.post(URL, {"token": token_of(response), "confirm": "1"}, follow=True)
    assert b"Imported time entries from harvest.csv: 3 created" in response.content
    record = ImportRecord.objects.get()
    assert (record.file_name, record.user, record.source, record.created) == (
        "harvest.csv", billing_admin, "harvest", 3
    )  # fmt: skip


def test_chosen_source_and_date_order_are_kept_from_preview_to_import(client_for, billing_admin):
    client = client_for(billing_admin)
    data = (FIXTURES / "kimai.csv").read_bytes()
    response = upload(client, data, source="kimai", date_order="dmy")
    assert "Source: Kimai export (as chosen)." in response.content.decode()
    client.post(URL, {"token": token_of(response), "confirm": "1"})
    assert sorted(TimeEntry.objects.values_list("date", flat=True).distinct())[0].isoformat() == (
        "2026-11-03"
    )


def test_unknown_header_opens_the_mapping_form_and_the_mapping_is_saved(client_for, billing_admin):
    client = client_for(billing_admin)
    before = snapshot()
    response = upload(client, UNKNOWN, name="tracker.csv")
    body = response.content.decode()
    assert "Which column is which?" in body
    # The guesses: "Day" for nothing (no word in common), "Person" for nothing, but our Date etc.
    assert '<option value="Ref">Ref</option>' in body
    assert snapshot() == before
    form = {
        "token": token_of(response), "save_mapping": "1", "mapping_name": "Our tracker",
        "col0": "Ref", "col1": "Day", "col2": "Person", "col5": "Job", "col7": "Time",
        "col8": "Chargeable", "values8": "oui = yes\nnon = no",
    }  # fmt: skip
    response = client.post(URL, form)
    body = response.content.decode()
    assert "Mapping &#x27;Our tracker&#x27; saved" in body
    assert [r[1:4] for r in cells(response, "preview-rows")] == [
        ["A1", "2026-03-11", "ann"],
        ["A2", "2026-03-12", "bo"],
    ]
    assert "Dates such as 03/11/2026 were read in month/day/year order" in body
    saved = SavedMapping.objects.get(kind="time_entries")
    assert saved.data["columns"]["Billable"] == "Chargeable"
    assert saved.data["values"] == {"Billable": {"oui": "yes", "non": "no"}}
    client.post(URL, {"token": token_of(response), "confirm": "1"})
    assert sorted(TimeEntry.objects.values_list("external_id", "billable")) == [
        ("A1", True),
        ("A2", False),
    ]
    # Offered next time, and used when chosen.
    page = client.get(URL).content.decode()
    assert '<option value="Our tracker">Our tracker</option>' in page
    response = upload(client, UNKNOWN, mapping="Our tracker")
    assert "Which column is which?" not in response.content.decode()
    assert b'data-count="unchanged">2<' in response.content


def test_history_lists_imports_and_undo_takes_the_latest_back(client_for, billing_admin, auditor):
    client = client_for(billing_admin)
    response = upload(client, (FIXTURES / "toggl.csv").read_bytes(), name="toggl.csv")
    client.post(URL, {"token": token_of(response), "confirm": "1"})
    record = ImportRecord.objects.get()
    page = client.get(reverse("import_history")).content.decode()
    assert "toggl.csv" in page and record.sha256[:12] in page
    assert f'action="/imports/{record.pk}/undo/"' in page
    # The auditor sees the history but may not undo.
    assert client_for(auditor).get(reverse("import_history")).status_code == 200
    assert (
        f"/imports/{record.pk}/undo/"
        not in client_for(auditor).get(reverse("import_history")).content.decode()
    )
    assert client_for(auditor).post(reverse("import_undo", args=[record.pk])).status_code == 403
    assert TimeEntry.objects.count() == 3
    response = client.post(reverse("import_undo", args=[record.pk]), follow=True)
    assert (
        f"Import {record.pk} (toggl.csv) undone: 3 removed, 0 restored" in response.content.decode()
    )
    assert not TimeEntry.objects.exists()
    record.refresh_from_db()
    assert (record.status, record.undone_by) == ("undone", billing_admin)


@pytest.mark.browser
def test_mapping_form_flow_in_the_browser(page, live_server, services_manager):
    log_in(page, services_manager)
    page.goto(live_server.url + URL)
    page.set_input_files(
        "input[type=file]", {"name": "tracker.csv", "mimeType": "text/csv", "buffer": UNKNOWN}
    )
    page.click("text=Check file")
    page.wait_for_selector("#mapping-form")
    for ours, theirs in (
        ("Entry ID", "Ref"),
        ("Date", "Day"),
        ("Employee ID", "Person"),
        ("Project Code", "Job"),
        ("Hours", "Time"),
        ("Billable", "Chargeable"),
    ):
        page.select_option(f"select[aria-label='Their column for {ours}']", theirs)  # fmt: skip
    page.fill("textarea[aria-label='Value replacements for Billable']", "oui = yes\nnon = no")
    page.fill("input[name=mapping_name]", "Tracker")
    page.click("text=Save mapping and check again")
    page.wait_for_selector("table.preview-rows")
    assert page.locator("[data-count=created]").inner_text() == "2"
    assert page.locator("table.preview-rows tbody tr").count() == 2
    page.click("button:has-text('Import time entries')")
    page.wait_for_selector(".messages li.success")
    assert TimeEntry.objects.count() == 2
    page.click("p.import-links >> a:has-text('Import history')")
    page.wait_for_selector("table.import-history")
    assert page.locator("table.import-history tbody tr").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Undo')")
    page.wait_for_selector(".messages li.success")
    assert not TimeEntry.objects.exists()


# A Salesforce opportunity report whose Stage and Agreement Type live in the firm's own fields
# ("Contract Status", "Billing Model"), with the report's footer lines.
SALESFORCE_CUSTOM = (
    b'"Opportunity Owner","Account Name","Account ID","Opportunity Name","Opportunity ID","Type",'
    b'"Stage","Amount","Close Date","Contract Status","Billing Model","Rate"\n'
    b'"Dana Lee","Acme Ltd","001Dn00000Acme1","Acme website relaunch","006Dn000001WebA",'
    b'"New Business","Closed Won","USD 12,500.00","11/1/2026","Active","Fixed",""\n'
    b'"Dana Lee","Acme Ltd","001Dn00000Acme1","Acme support 2027","006Dn000001SupB",'
    b'"Existing Business","Negotiation/Review","USD 35,000.00","12/15/2026","Active","T&M",'
    b'"175.00"\n'
    b'"Dana Lee","Acme Ltd","001Dn00000Acme1","Acme audit","006Dn000001AudC",'
    b'"New Business","Proposal/Price Quote","USD 8,000.00","12/1/2026","Pending","Fixed",""\n'
    b"\n"
    b'"Grand Totals (3 records)"\n'
    b"\n"
    b'"Confidential Information - Do Not Distribute"\n'
    b'"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
)
AGREEMENTS_URL = "/agreements/import/"


def selected(body: str, ours: str) -> str:
    """The option the mapping form pre-selects for one of our columns."""
    select = re.search(rf'aria-label="Their column for {ours}">(.*?)</select>', body, re.S).group(1)
    chosen = re.search(r'<option value="([^"]*)" selected>', select)
    return chosen.group(1) if chosen else re.search(r"<option [^>]*>([^<]*)</option>", select)[1]


def textarea(body: str, ours: str) -> str:
    return re.search(rf'aria-label="Value replacements for {ours}">(.*?)</textarea>', body, re.S)[1]


def as_posted(body: str) -> dict[str, str]:
    """What a browser posts for the mapping form left as rendered: every select's chosen
    option (the first when none is), every default and every value-replacement text."""
    form = re.search(r'<form method="post" class="js-working" id="mapping-form">(.*?)</form>',
                     body, re.S)[1]  # fmt: skip
    posted = {}
    for name, options in re.findall(r'<select name="(col\d+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options) or re.search(
            r'<option value="([^"]*)"', options
        )
        posted[name] = html.unescape(chosen[1])
    for name, value in re.findall(r'<input name="(default\d+)" value="([^"]*)"', form):
        posted[name] = html.unescape(value)
    for name, text in re.findall(r'<textarea name="(values\d+)"[^>]*>(.*?)</textarea>', form, re.S):
        posted[name] = html.unescape(text)
    return posted


def test_salesforce_export_with_custom_fields_imports_after_the_mapping_form(
    client_for, billing_admin
):
    from agreements.importing import COLUMNS
    from agreements.models import Agreement

    client = client_for(billing_admin)
    before = snapshot()
    file = SimpleUploadedFile("opportunities.csv", SALESFORCE_CUSTOM, content_type="text/csv")
    response = client.post(AGREEMENTS_URL, {"file": file, "source": "auto"})
    body = response.content.decode()
    # Recognised, and the form opens pre-filled from what the Salesforce source reads.
    assert "Which column is which?" in body
    assert "opportunities.csv reads as a Salesforce report, but the export has no column for " \
        "Agreement Type (your own fields, perhaps)" in body  # fmt: skip
    assert selected(body, "Agreement ID") == "as the Salesforce report reads it: Opportunity ID"
    assert selected(body, "Start Date") == "as the Salesforce report reads it: Close Date"
    assert selected(body, "Stage") == "as the Salesforce report reads it: Stage"
    # Guesses among the columns the source does not read: the word in common.
    assert selected(body, "Hourly Rate") == "Rate"
    assert selected(body, "Agreement Type") == "Type"
    stage_values = textarea(body, "Stage")
    assert "negotiation/review = Draft" in stage_values.splitlines()
    assert snapshot() == before
    index = {c: i for i, c in enumerate(COLUMNS)}
    # The form as rendered (the guesses and the source's replacements), with the user's changes.
    form = {
        **as_posted(body),
        "token": token_of(response), "save_mapping": "1", "mapping_name": "Salesforce (ours)",
        f"col{index['Stage']}": "Contract Status",
        f"values{index['Stage']}": html.unescape(stage_values) + "\nActive = Signed\nPending = Draft",
        f"col{index['Agreement Type']}": "Billing Model",
        f"values{index['Agreement Type']}": "T&M = Time and Materials\nFixed = Fixed Fee",
    }  # fmt: skip
    response = client.post(AGREEMENTS_URL, form)
    body = response.content.decode()
    assert "Mapping &#x27;Salesforce (ours)&#x27; saved" in body
    assert "Which column is which?" not in body
    assert b'data-count="created">3<' in response.content
    saved = SavedMapping.objects.get(kind="agreements")
    # Only what differs from the Salesforce source is saved (its own replacements stay its own).
    assert saved.data == {
        "source": "salesforce",
        "columns": {"Agreement Type": "Billing Model", "Stage": "Contract Status",
                    "Hourly Rate": "Rate"},
        "values": {"Stage": {"active": "Signed", "pending": "Draft"},
                   "Agreement Type": {"t&m": "Time and Materials", "fixed": "Fixed Fee"}},
    }  # fmt: skip
    assert snapshot() == before
    client.post(AGREEMENTS_URL, {"token": token_of(response), "confirm": "1"})
    assert sorted(
        Agreement.objects.values_list(
            "external_id", "project_code", "agreement_type", "stage", "amount", "hourly_rate"
        )
    ) == [
        ("006Dn000001AudC", "Acme audit", "fixed_fee", "draft", Decimal("8000.00"), None),
        ("006Dn000001SupB", "Acme support 2027", "time_and_materials", "signed",
         Decimal("35000.00"), Decimal("175.00")),
        ("006Dn000001WebA", "Acme website relaunch", "fixed_fee", "signed", Decimal("12500.00"),
         None),
    ]  # fmt: skip
    assert ImportRecord.objects.get().source == "salesforce"
    imported = snapshot()

    # Next time: offered on the upload form, and by the mapping form itself; either works.
    page = client.get(AGREEMENTS_URL).content.decode()
    assert '<option value="Salesforce (ours)">Salesforce (ours)</option>' in page
    file = SimpleUploadedFile("again.csv", SALESFORCE_CUSTOM, content_type="text/csv")
    response = client.post(
        AGREEMENTS_URL, {"file": file, "source": "auto", "mapping": "Salesforce (ours)"}
    )
    assert "Which column is which?" not in response.content.decode()
    assert b'data-count="unchanged">3<' in response.content
    file = SimpleUploadedFile("again.csv", SALESFORCE_CUSTOM, content_type="text/csv")
    response = client.post(AGREEMENTS_URL, {"file": file, "source": "auto"})
    assert "Or check again with a saved mapping" in response.content.decode()
    response = client.post(AGREEMENTS_URL, {
        "token": token_of(response), "use_mapping": "1", "saved_mapping": "Salesforce (ours)",
    })  # fmt: skip
    assert b'data-count="unchanged">3<' in response.content
    assert snapshot() == imported


def test_mapping_form_rows_keep_what_a_recognised_source_reads_derives_and_fills():
    from core.import_pages import DERIVED, mapping_rows
    from timesheets.importing import SOURCES
    from timesheets.sources import TOGGL

    header = (FIXTURES / "toggl.csv").read_text().splitlines()[0].split(",") + ["Entry Ref"]
    rows = {r["column"]: r for r in mapping_rows(SOURCES, header, TOGGL)}
    # Toggl has no entry ID: the key stays derived, not guessed from "Entry Ref".
    assert (rows["Entry ID"]["reads"], rows["Entry ID"]["guess"]) == (DERIVED, "")
    assert (rows["Date"]["reads"], rows["Hours"]["reads"]) == ("Start date", "Duration")
    assert rows["Billable"]["reads"] == "Billable"
    # A file column is guessed at most once, and never one the source already reads.
    guesses = [r["guess"] for r in rows.values() if r["guess"]]
    read = {part for r in rows.values() for part in r["reads"].split(" + ")}
    assert len(guesses) == len(set(guesses)) and not read & set(guesses)


@pytest.mark.browser
def test_salesforce_mapping_form_in_the_browser(page, live_server, billing_admin):
    from agreements.models import Agreement

    log_in(page, billing_admin)
    page.goto(live_server.url + AGREEMENTS_URL)
    page.set_input_files("input[type=file]", {
        "name": "opportunities.csv", "mimeType": "text/csv", "buffer": SALESFORCE_CUSTOM,
    })  # fmt: skip
    page.click("text=Check file")
    page.wait_for_selector("#mapping-form")
    assert page.input_value("select[aria-label='Their column for Hourly Rate']") == "Rate"
    page.select_option("select[aria-label='Their column for Stage']", "Contract Status")
    stage = "textarea[aria-label='Value replacements for Stage']"
    page.fill(stage, page.input_value(stage) + "\nActive = Signed\nPending = Draft")
    page.select_option("select[aria-label='Their column for Agreement Type']", "Billing Model")
    page.fill("textarea[aria-label='Value replacements for Agreement Type']",
              "T&M = Time and Materials\nFixed = Fixed Fee")  # fmt: skip
    page.fill("input[name=mapping_name]", "Salesforce (ours)")
    page.click("text=Save mapping and check again")
    page.wait_for_selector("table.preview-rows")
    assert page.locator("[data-count=created]").inner_text() == "3"
    page.click("button:has-text('Import agreements')")
    page.wait_for_selector(".messages li.success")
    assert sorted(Agreement.objects.values_list("external_id", "agreement_type", "stage")) == [
        ("006Dn000001AudC", "fixed_fee", "draft"),
        ("006Dn000001SupB", "time_and_materials", "signed"),
        ("006Dn000001WebA", "fixed_fee", "signed"),
    ]
