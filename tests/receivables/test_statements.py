"""Bank statements as payments (SPEC 1.4): every format's fixture imported end to end with exact
amounts, accounts and allocations; re-import changes nothing; debits skipped and counted; unknown
payers imported unassigned; hostile XML refused with nothing written."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from receivables.models import Allocation, KnownPayer, Payment
from receivables.services import payment_import
from receivables.statements import detect
from tests.factories import AccountFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db

D = Decimal
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _frozen_day():
    with time_machine.travel(dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def world():
    acme = AccountFactory(external_id="ACC-100", name="Acme")
    globex = AccountFactory(external_id="ACC-200", name="Globex")
    initech = AccountFactory(external_id="ACC-300", name="Initech")
    due = dt.date(2026, 3, 31)
    final_invoice(acme, "3750.00", due, currency="EUR", seq=1)
    final_invoice(acme, "1500.00", due, currency="USD", seq=2)
    final_invoice(globex, "200.00", due, currency="EUR", seq=3)
    final_invoice(globex, "1000.00", due, currency="USD", seq=4)
    KnownPayer.objects.create(kind="name", key="initech sarl", account=initech)
    return {"acme": acme, "globex": globex, "initech": initech}


def stored():
    """(Payment ID, date, account, amount, currency, source, [(invoice, amount, date)])."""
    out = []
    for p in Payment.objects.select_related("account").order_by("date", "external_id"):
        allocations = [
            (a.invoice.number, a.amount, a.date)
            for a in Allocation.objects.filter(payment=p).select_related("invoice").order_by("id")
        ]
        account = p.account.external_id if p.account else None
        out.append((p.external_id, p.date, account, p.amount, p.currency, p.source, allocations))
    return out


APR1, APR2, APR3 = dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 3)
USD_ACME = ("ACC-100", D("1500.00"), "USD", [("INV-2026-00002", D("1500.00"), APR1)])

CASES = {
    "camt053.xml": (
        "camt053",
        "Read as camt053 (ISO 20022 camt.053 XML): 4 credit(s); 1 debit(s) skipped; "
        "1 not booked (pending) entries skipped.",
        [
            ("2026040100001", APR1, "ACC-100", D("3750.00"), "EUR", "camt053",
             [("INV-2026-00001", D("3750.00"), APR1)]),
            ("2026040200007", APR2, None, D("500.00"), "EUR", "camt053", []),
            ("2026040200008-1", APR2, "ACC-200", D("200.00"), "EUR", "camt053",
             [("INV-2026-00003", D("200.00"), APR2)]),
            ("2026040200008-2", APR2, "ACC-300", D("300.00"), "EUR", "camt053", []),
        ],
    ),
    "bai2.txt": (
        "bai2",
        "Read as bai2 (BAI2 cash management file): 3 credit(s); 2 debit(s) skipped.",
        [
            ("BR260401001", APR1, *USD_ACME[:2], "USD", "bai2", USD_ACME[3]),
            ("BR260401002", APR1, "ACC-200", D("987.65"), "USD", "bai2",
             [("INV-2026-00004", D("987.65"), APR1)]),
            ("BR260401004", APR1, None, D("400.00"), "USD", "bai2", []),
        ],
    ),
    "ofx1.ofx": (
        "ofx",
        "Read as ofx (OFX statement): 3 credit(s); 1 debit(s) skipped.",
        [
            ("202604010001", APR1, *USD_ACME[:2], "USD", "ofx", USD_ACME[3]),
            ("202604020002", APR2, "ACC-200", D("987.65"), "USD", "ofx",
             [("INV-2026-00004", D("987.65"), APR2)]),
            ("202604030001", APR3, None, D("400.00"), "USD", "ofx", []),
        ],
    ),
    "ofx2.ofx": (
        "ofx",
        "Read as ofx (OFX statement): 2 credit(s); 1 debit(s) skipped.",
        [
            ("X-202604010001", APR1, *USD_ACME[:2], "USD", "ofx", USD_ACME[3]),
            ("X-202604020002", APR2, "ACC-200", D("987.65"), "USD", "ofx",
             [("INV-2026-00004", D("987.65"), APR2)]),
        ],
    ),
    "mt940.sta": (
        "mt940",
        "Read as mt940 (SWIFT MT940 statement): 3 credit(s); 1 debit(s) skipped.",
        [
            ("260401-77", APR1, "ACC-100", D("3750.00"), "EUR", "mt940",
             [("INV-2026-00001", D("3750.00"), APR1)]),
            ("260403-12", APR3, None, D("1200.00"), "EUR", "mt940", []),
            ("mt940:d1f60895053eb0ee", APR2, "ACC-200", D("500.00"), "EUR", "mt940",
             [("INV-2026-00003", D("200.00"), APR2)]),
        ],
    ),
    "chase.csv": (
        "bank-csv",
        "Read as bank-csv (bank account CSV): 3 credit(s); 2 debit(s) skipped.",
        [
            ("bank-csv:4376ddf05ea8aa0e", APR1, *USD_ACME[:2], "USD", "bank-csv", USD_ACME[3]),
            ("bank-csv:777a03771659959c", APR2, "ACC-200", D("987.65"), "USD", "bank-csv",
             [("INV-2026-00004", D("987.65"), APR2)]),
            ("bank-csv:9e9237b4f6d24e25", APR3, None, D("400.00"), "USD", "bank-csv", []),
        ],
    ),
    "sparkasse.csv": (
        "bank-csv",
        "Read as bank-csv (bank account CSV): 2 credit(s); 1 debit(s) skipped; "
        "1 pending lines skipped; read as Windows-1252.",
        [
            ("bank-csv:94a91124d7ded968", APR1, "ACC-100", D("3750.00"), "EUR", "bank-csv",
             [("INV-2026-00001", D("3750.00"), APR1)]),
            ("bank-csv:b2c4e0d62b515488", APR3, None, D("1200.00"), "EUR", "bank-csv", []),
        ],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_statement_imports_end_to_end_and_reimport_changes_nothing(world, finance, name):
    source, summary, expected = CASES[name]
    data = (FIXTURES / name).read_bytes()
    assert detect(data[:4096]) == source
    result = payment_import(file=data, user=finance)
    assert result.errors == []
    assert (result.created, result.unchanged) == (len(expected), 0)
    assert result.notices[0] == summary
    assert stored() == sorted(expected, key=lambda row: (row[1], row[0]))
    unassigned = Payment.objects.filter(account__isnull=True)
    assert all(p.history.get().history_user == finance for p in Payment.objects.all())

    before = (stored(), list(Allocation.objects.values_list("id", flat=True)))
    again = payment_import(file=data, user=finance, source=source)
    assert again.as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": len(expected),
        "errors": [],
    }
    assert (stored(), list(Allocation.objects.values_list("id", flat=True))) == before
    assert unassigned.count() == sum(1 for row in expected if row[2] is None)


def test_how_each_account_was_found_is_in_the_notices(world):
    result = payment_import(file=(FIXTURES / "camt053.xml").read_bytes())
    assert result.notices[1:] == [
        "2026040100001: EUR 3,750.00 to ACC-100 (found by invoice number) applied "
        "EUR 3,750.00 to INV-2026-00001",
        "2026040200007: EUR 500.00 unassigned (payer not known); assign it to an account",
        "2026040200008-1: EUR 200.00 to ACC-200 (found by Account ID) applied EUR 200.00 to "
        "INV-2026-00003",
        "2026040200008-2: EUR 300.00 to ACC-300 (found by payer name) not applied to any "
        "invoice; EUR 300.00 unapplied",
    ]


def test_payer_and_text_are_stored(world):
    payment_import(file=(FIXTURES / "sparkasse.csv").read_bytes())
    p = Payment.objects.get(account__isnull=True)
    assert (p.payer_name, p.payer_iban, p.reference, p.method) == (
        "Müller Consulting",
        "DE44500105175407324931",
        "Abschlag April",
        "GUTSCHR. UEBERWEISUNG",
    )


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-04-01</Dt></BookgDt>
<NtryDtls><TxDtls><RmtInf><Ustrd>&lol9;</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document><BkToCstmrStmt><Stmt><Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<BookgDt><Dt>2026-04-01</Dt></BookgDt><AddtlNtryInf>&x;</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt>
</Document>
"""
REFUSED = (
    "the XML declares a DTD or entities (<!DOCTYPE/<!ENTITY); bank statements never do, "
    "so the file is refused"
)


@pytest.mark.parametrize(("data", "source"), [(BILLION_LAUGHS, "auto"), (XXE, "camt053")])
def test_hostile_xml_is_refused_cleanly_and_nothing_is_written(world, data, source):
    result = payment_import(file=data, source=source)
    assert [str(e) for e in result.errors] == [f"line 2: File: {REFUSED}"]
    assert Payment.objects.count() == 0


def test_hostile_ofx_is_refused_too(world):
    data = b"OFXHEADER:100\nDATA:OFXSGML\n\n<!DOCTYPE x [<!ENTITY a 'b'>]>\n<OFX></OFX>\n"
    result = payment_import(file=data)
    assert [str(e) for e in result.errors] == [
        "line 4: File: the file declares a DTD or entities (<!DOCTYPE/<!ENTITY); OFX "
        "statements never do, so the file is refused"
    ]


@pytest.mark.parametrize(
    ("data", "source", "message"),
    [
        (b"<Document><Oops></Document>", "auto", "line 1: File: is not well-formed XML"),
        (
            b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">'
            b"<BkToCstmrDbtCdtNtfctn/></Document>",
            "auto",
            "line 2: File: is not a camt.053 statement (it is camt.054); export the camt.053 "
            "end-of-day statement",
        ),
        (
            (FIXTURES / "camt053.xml").read_bytes(),
            "bai2",
            "line 1: File: is not a BAI2 file (it does not start with a 01 file header)",
        ),
        (
            b"01,A,B,260401,0600,1,,,2/\n02,B,A,1,260401,,USD,2/\n16,165,12.50,0,R1,,X/\n",
            "auto",
            "line 3: 16 amount: must be a whole number, got '12.50'",
        ),
        (
            b"Payment ID,Date,Amount\n",
            "mt940",
            "line 1: File: is not an MT940 statement (no :20: field)",
        ),
    ],
)
def test_malformed_statements_are_refused_with_a_readable_line(world, data, source, message):
    result = payment_import(file=data, source=source)
    assert [str(e) for e in result.errors][0].startswith(message)
    assert Payment.objects.count() == 0


def test_future_dated_credit_refuses_the_statement(world):
    data = (
        (FIXTURES / "ofx2.ofx").read_bytes().replace(b"20260402</DTPOSTED>", b"20260416</DTPOSTED>")
    )
    result = payment_import(file=data)
    assert [str(e) for e in result.errors] == [
        "line 40: Date: is after today (2026-04-16 > 2026-04-15); a payment cannot be dated in "
        "the future"
    ]
    assert Payment.objects.count() == 0


def test_command_auto_detects_and_names_the_source(world, tmp_path):
    path = tmp_path / "statement.sta"
    path.write_bytes((FIXTURES / "mt940.sta").read_bytes())
    out = io.StringIO()
    call_command("import_payments", str(path), "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[:2] == [
        "Dry run, nothing written: 3 created, 0 updated, 0 unchanged",
        "Read as mt940 (SWIFT MT940 statement): 3 credit(s); 1 debit(s) skipped.",
    ]
    assert Payment.objects.count() == 0
    out = io.StringIO()
    call_command("import_payments", str(path), "--source", "mt940", stdout=out)
    assert out.getvalue().startswith("Imported payments: 3 created")
    assert Payment.objects.count() == 3


def test_billable_csv_is_still_the_default(world):
    text = "Payment ID,Date,Account ID,Amount,Currency\nP-1,2026-04-01,ACC-100,10.00,USD\n"
    result = payment_import(file=text.encode())
    assert result.notices[0] == "Read as billable (payments CSV, SPEC 1.3): 1 row(s)."
    assert Payment.objects.get().source == "billable"


def test_bank_csv_as_xlsx_and_its_value_errors(world):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in (FIXTURES / "chase.csv").read_text().splitlines():
        sheet.append(next(csv.reader([row])))
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = payment_import(file=buffer.getvalue(), source="bank-csv")
    assert (result.errors, result.created) == ([], 3)
    assert Payment.objects.get(external_id="bank-csv:777a03771659959c").amount == D("987.65")

    text = (FIXTURES / "sparkasse.csv").read_bytes().replace(b'"1.200,00"', b'"1.200,005"')
    bad = payment_import(file=text)
    assert [str(e) for e in bad.errors] == [
        "line 4: Betrag: has more than 2 decimal places, got '1.200,005'"
    ]
    assert Payment.objects.count() == 3


def test_upload_page_previews_a_statement_then_imports_it(world, client_for, finance):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    client = client_for(finance)
    data = (FIXTURES / "bai2.txt").read_bytes()
    preview = client.post(
        reverse("receivables:payment_upload"),
        {"file": SimpleUploadedFile("statement.bai", data), "source": "bai2"},
    )
    body = preview.content.decode()
    assert "Read as bai2 (BAI2 cash management file): 3 credit(s); 2 debit(s) skipped." in body
    assert "BR260401004: USD 400.00 unassigned (payer not known)" in body
    # The payments as they will be stored: the account found (and how), or unassigned.
    assert preview_rows(preview) == [
        ["BR260401001", "2026-04-01", "ACC-100 (Acme), found by invoice number", "USD 1,500.00",
         "CR7781 ACH CREDIT ACME CORP INV-2026-00002", "new"],
        ["BR260401002", "2026-04-01", "ACC-200 (Globex), found by Account ID", "USD 987.65",
         "WIRE IN FROM GLOBEX LLC, REF ACC-200 MARCH", "new"],
        ["BR260401004", "2026-04-01", "unassigned", "USD 400.00",
         "ACH CREDIT UNKNOWN PAYER LLC REMITTANCE NOVEMBER SERVICES", "new"],
    ]  # fmt: skip
    assert Payment.objects.count() == 0
    token = preview.context["token"]
    done = client.post(reverse("receivables:payment_upload"), {"token": token})
    assert done.status_code == 302
    assert Payment.objects.filter(source="bai2").count() == 3


def preview_rows(response) -> list[list[str]]:
    """The upload page's preview table, without its line numbers."""
    import re

    table = re.search(rb'<table class="preview-rows">(.*?)</table>', response.content, re.S)
    body = re.search(rb"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)
    rows = re.findall(rb"<tr>(.*?)</tr>", body, re.S)
    return [[c.decode() for c in re.findall(rb"<td[^>]*>(.*?)</td>", r, re.S)][1:] for r in rows]
