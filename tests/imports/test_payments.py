"""The billable payments file through the shared reader (SPEC 1.4): encodings, delimiters, date
order, decimal comma, XLSX (with --sheet), mapping files; on the command, the upload page and
the API. Payment imports in the import history, and their undo (refused once allocated)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from openpyxl import Workbook
from rest_framework.test import APIClient

from core.imports import UndoRefused
from core.models import ImportRecord
from receivables.import_history import payment_import_undo
from receivables.models import Allocation, Payment
from receivables.services import payment_import
from tests.factories import AccountFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db
GERMAN = (
    "Payment ID;Date;Account ID;Amount;Currency;Reference;Method\r\n"
    "P-1;10.04.2026;ACME;3.750,00;EUR;Überweisung März;SEPA\r\n"
    "P-2;02.05.2026;ACME;1.234,5;EUR;Gebühr;SEPA\r\n"
).encode("cp1252")


@pytest.fixture
def acme():
    return AccountFactory(external_id="ACME", name="Acme")


def stored() -> list[tuple]:
    return list(
        Payment.objects.order_by("external_id").values_list(
            "external_id", "date", "amount", "currency", "reference"
        )
    )


EXPECTED = [
    ("P-1", dt.date(2026, 4, 10), Decimal("3750.00"), "EUR", "Überweisung März"),
    ("P-2", dt.date(2026, 5, 2), Decimal("1234.50"), "EUR", "Gebühr"),
]


def command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_payments", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_command_reads_cp1252_semicolons_and_decimal_commas(acme, tmp_path):
    path = tmp_path / "zahlungen.csv"
    path.write_bytes(GERMAN)
    code, out, err = command(
        str(path), "--encoding", "cp1252", "--delimiter", ";", "--decimal", "comma",
        "--date-order", "dmy", "--json",
    )  # fmt: skip
    assert (code, json.loads(out)) == (0, {"created": 2, "updated": 0, "unchanged": 0,
                                          "errors": []}), err  # fmt: skip
    assert stored() == EXPECTED
    # Sniffed without --encoding and --delimiter; a re-import changes nothing.
    code, out, _ = command(str(path), "--decimal", "comma", "--date-order", "dmy")
    assert code == 0 and "0 created" in out and "2 unchanged" in out
    record = ImportRecord.objects.filter(kind="payments").first()
    assert (record.file_name, record.encoding, record.options["decimal"]) == (
        "zahlungen.csv", "Windows-1252", "comma",
    )  # fmt: skip


def test_without_decimal_comma_the_file_is_refused_whole(acme):
    result = payment_import(file=GERMAN, options=None)
    assert not result.ok and not Payment.objects.exists()
    assert any(e.column == "Amount" for e in result.errors), result.errors
    # 1.500 (EUR 1,500) with the decimal point is an error that suggests --decimal comma.
    text = b"Payment ID,Date,Account ID,Amount,Currency\nP-9,2026-04-10,ACME,1.500,EUR\n"
    result = payment_import(file=text)
    assert [(e.line, e.column) for e in result.errors] == [(2, "Amount")]
    assert "--decimal comma" in result.errors[0].message
    assert not Payment.objects.exists()


def test_notices_say_how_the_file_was_read(acme):
    from core.reading import ReadOptions

    result = payment_import(file=GERMAN, options=ReadOptions(decimal="comma", date_order="dmy"))
    assert result.ok, result.errors
    assert result.notices[0].startswith("Read as billable (payments CSV, SPEC 1.3): 2 row(s)")
    assert "The file was read as Windows-1252." in result.notices


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_first_sheet_and_named_sheet(acme, tmp_path):
    header = ["Payment ID", "Date", "Account ID", "Amount", "Currency", "Reference"]
    data = xlsx({
        "Notes": [["nothing here"]],
        "Payments": [header, ["X-1", dt.datetime(2026, 4, 10), "ACME", 1500.5, "USD", "wire"],
                     [20260411, "2026-04-11", "ACME", 99, "USD", ""]],
    })  # fmt: skip
    path = tmp_path / "payments.xlsx"
    path.write_bytes(data)
    code, _, err = command(str(path), "--dry-run")
    assert code == 1 and "Payment ID" in err  # the first sheet is not a payments table
    code, out, err = command(str(path), "--sheet", "Payments")
    assert code == 0, err
    assert list(Payment.objects.order_by("external_id").values_list("external_id", "date", "amount")) == [
        ("20260411", dt.date(2026, 4, 11), Decimal("99.00")),
        ("X-1", dt.date(2026, 4, 10), Decimal("1500.50")),
    ]  # fmt: skip


def test_mapping_file_on_the_command(acme, tmp_path):
    path = tmp_path / "bank.csv"
    path.write_bytes(
        "Buchung;Valuta;Kunde;Betrag;Verwendungszweck\n"
        "B-7;11.04.2026;ACME;2.000,00;Rechnung\n".encode("cp1252")
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({
        "columns": {"Payment ID": "Buchung", "Date": "Valuta", "Account ID": "Kunde",
                    "Amount": "Betrag", "Reference": "Verwendungszweck"},
        "defaults": {"Currency": "EUR"}, "decimal": "comma", "date_order": "dmy",
    }))  # fmt: skip
    code, _, err = command(str(path), "--mapping", str(mapping))
    assert code == 0, err
    assert stored() == [("B-7", dt.date(2026, 4, 11), Decimal("2000.00"), "EUR", "Rechnung")]
    # Errors name the file's own columns.
    path.write_bytes(b"Buchung;Valuta;Kunde;Betrag;Verwendungszweck\nB-8;11.04.2026;NOPE;1,00;x\n")
    code, _, err = command(str(path), "--mapping", str(mapping))
    assert code == 1 and "line 2: Kunde: account NOPE does not exist" in err


def test_upload_page_reads_with_the_chosen_options(acme, client_for, finance):
    client = client_for(finance)
    url = reverse("receivables:payment_upload")
    page = client.get(url).content.decode()
    assert 'name="decimal"' in page and 'name="date_order"' in page and 'name="sheet"' in page
    preview = client.post(url, {
        "file": SimpleUploadedFile("zahlungen.csv", GERMAN, "text/csv"), "source": "auto",
        "decimal": "comma", "date_order": "dmy",
    })  # fmt: skip
    assert preview.context["result"].ok, preview.context["result"].errors
    assert not Payment.objects.exists()
    done = client.post(url, {"token": preview.context["token"]})
    assert done.status_code == 302
    assert stored() == EXPECTED
    record = ImportRecord.objects.get()
    assert (record.kind, record.file_name, record.user) == ("payments", "zahlungen.csv", finance)
    assert set(Payment.objects.values_list("import_record_id", flat=True)) == {record.pk}
    history = client.get(reverse("import_history")).content.decode()
    assert "zahlungen.csv" in history and f"/imports/{record.pk}/undo/" in history


def test_api_takes_the_reading_options_and_a_mapping(acme, finance):
    api = APIClient()
    api.force_authenticate(finance)
    url = "/api/v1/payments/import/?decimal=comma&date_order=dmy"
    response = api.generic("POST", url, GERMAN, content_type="text/csv")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 2 and stored() == EXPECTED
    mapping = {"columns": {"Payment ID": "Ref", "Date": "Day", "Account ID": "Client",
                           "Amount": "Sum"}, "decimal": "comma"}  # fmt: skip
    file = SimpleUploadedFile("x.csv", b"Ref;Day;Client;Sum\nM-1;2026-04-12;ACME;10,50\n")
    response = api.post("/api/v1/payments/import/", {"file": file, "mapping": json.dumps(mapping)})
    assert response.status_code == 200, response.json()
    assert Payment.objects.get(external_id="M-1").amount == Decimal("10.50")


def test_payment_import_undo_deletes_unallocated_payments_with_history(acme, finance, client_for):
    result = payment_import(file=GERMAN, user=finance, file_name="z.csv",
                            options=_comma())  # fmt: skip
    assert result.ok and result.import_id
    client = client_for(finance)
    response = client.post(reverse("import_undo", args=[result.import_id]), follow=True)
    assert f"Import {result.import_id} (z.csv) undone: 2 removed" in response.content.decode()
    assert not Payment.objects.exists()
    deleted = Payment.history.filter(history_type="-")
    assert {(h.external_id, h.history_user) for h in deleted} == {
        ("P-1", finance),
        ("P-2", finance),
    }
    record = ImportRecord.objects.get()
    assert (record.status, record.undone_by) == ("undone", finance)


def test_payment_import_undo_is_refused_once_a_payment_is_allocated(acme, finance):
    invoice = final_invoice(acme, "100.00", due=dt.date(2026, 3, 31), seq=71)
    text = (
        "Payment ID,Date,Account ID,Amount,Reference\n"
        f"A-1,2026-04-10,ACME,100.00,{invoice.number}\nA-2,2026-04-11,ACME,5.00,\n"
    ).encode()
    result = payment_import(file=text, user=finance)
    assert result.ok and Allocation.objects.count() == 1
    before = (stored(), list(Allocation.objects.values_list("pk", "amount")))
    with pytest.raises(UndoRefused) as exc:
        payment_import_undo(record_id=result.import_id, user=finance)
    assert str(exc.value) == (
        "1 payment(s) of this import are allocated to invoices (A-1); allocations are never "
        "deleted, so it cannot be undone."
    )
    assert (stored(), list(Allocation.objects.values_list("pk", "amount"))) == before
    assert ImportRecord.objects.get().status == "done"


def _comma():
    from core.reading import ReadOptions

    return ReadOptions(decimal="comma", date_order="dmy")


def preview_cells(response) -> list[list[str]]:
    import re

    table = re.search(rb'<table class="preview-rows">(.*?)</table>', response.content, re.S)
    body = re.search(rb"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)
    rows = re.findall(rb"<tr>(.*?)</tr>", body, re.S)
    return [[c.decode() for c in re.findall(rb"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


SAVINGS_BANK = (
    "Buchung;Valuta;Kunde;Betrag;Verwendungszweck\r\n"
    "B-1;11.04.2026;ACME;1.250,00;Rechnung März\r\n"
    "B-2;12.04.2026;ACME;20,5;\r\n"
).encode("cp1252")


def test_upload_page_maps_an_unknown_payments_header_and_offers_the_mapping_next_time(
    acme, client_for, finance
):
    from core.models import SavedMapping

    client = client_for(finance)
    url = reverse("receivables:payment_upload")
    response = client.post(url, {
        "file": SimpleUploadedFile("umsatz.csv", SAVINGS_BANK, "text/csv"), "source": "auto",
        "decimal": "comma", "date_order": "dmy",
    })  # fmt: skip
    body = response.content.decode()
    # The same mapping form as the other upload pages, not a list of problems.
    assert 'id="mapping-form"' in body and "Which column is which?" in body
    assert "The header of umsatz.csv matches no export we know (it has no column for " \
        "Payment ID, Date, Account ID, Amount)" in body  # fmt: skip
    assert "problem" not in body.split('id="mapping-form"')[0]
    assert not Payment.objects.exists()
    form = {
        "token": response.context["token"], "save_mapping": "1", "mapping_name": "Sparkasse",
        "col0": "Buchung", "col1": "Valuta", "col2": "Kunde", "col3": "Betrag",
        "col5": "Verwendungszweck", "default4": "EUR",
    }  # fmt: skip
    response = client.post(url, form)
    assert "Mapping &#x27;Sparkasse&#x27; saved" in response.content.decode()
    assert preview_cells(response) == [
        ["2", "B-1", "2026-04-11", "ACME (Acme)", "EUR 1,250.00", "Rechnung März", "new"],
        ["3", "B-2", "2026-04-12", "ACME (Acme)", "EUR 20.50", "", "new"],
    ]
    # The reading options the upload chose are kept with the mapping (SPEC 1.4 mapping keys).
    assert SavedMapping.objects.get(kind="payments").data == {
        "columns": {"Payment ID": "Buchung", "Date": "Valuta", "Account ID": "Kunde",
                    "Amount": "Betrag", "Reference": "Verwendungszweck"},
        "defaults": {"Currency": "EUR"}, "date_order": "dmy", "decimal": "comma",
    }  # fmt: skip
    assert not Payment.objects.exists()
    done = client.post(url, {"token": response.context["token"]})
    assert done.status_code == 302
    assert stored() == [
        ("B-1", dt.date(2026, 4, 11), Decimal("1250.00"), "EUR", "Rechnung März"),
        ("B-2", dt.date(2026, 4, 12), Decimal("20.50"), "EUR", ""),
    ]
    # Offered next time, and read with its own options when chosen.
    page = client.get(url).content.decode()
    assert '<option value="Sparkasse">Sparkasse</option>' in page
    response = client.post(url, {
        "file": SimpleUploadedFile("umsatz-2.csv", SAVINGS_BANK, "text/csv"), "source": "auto",
        "mapping": "Sparkasse",
    })  # fmt: skip
    assert 'id="mapping-form"' not in response.content.decode()
    assert response.context["result"].ok, response.context["result"].errors
    assert (response.context["result"].created, response.context["result"].unchanged) == (0, 2)
    assert [r[-1] for r in preview_cells(response)] == ["already recorded"] * 2


def test_payment_preview_shows_the_first_20_payments_as_stored_and_writes_nothing(
    acme, client_for, finance
):
    from core.models import ImportRecord

    lines = ["Payment ID,Date,Account ID,Amount,Currency,Reference"]
    lines += [f"P-{n:02},2026-04-{n:02},ACME,{n}00.00,EUR,Transfer {n}" for n in range(1, 26)]
    data = ("\n".join(lines) + "\n").encode()
    assert payment_import(file=f"{lines[0]}\n{lines[1]}\n".encode(), user=finance).ok
    before = (stored(), ImportRecord.objects.count())
    client = client_for(finance)
    url = reverse("receivables:payment_upload")
    response = client.post(url, {"file": SimpleUploadedFile("p.csv", data, "text/csv")})
    body = response.content.decode()
    assert "24 new payments, 1 already recorded (unchanged)." in body
    assert "The first 20 payments of the file as they will be stored" in body
    rows = preview_cells(response)
    assert len(rows) == 20
    assert rows[0] == ["2", "P-01", "2026-04-01", "ACME (Acme)", "EUR 100.00", "Transfer 1",
                       "already recorded"]  # fmt: skip
    assert rows[19] == ["21", "P-20", "2026-04-20", "ACME (Acme)", "EUR 2,000.00", "Transfer 20",
                        "new"]  # fmt: skip
    assert (stored(), ImportRecord.objects.count()) == before
