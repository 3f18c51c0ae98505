"""Dispute attachments against hostile files: wrong types, disguised markup, scripted PDFs,
oversize, path tricks; stored under random names, served only as downloads."""

from __future__ import annotations

import hashlib
import io
import os
import re
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader, PdfWriter

from core.errors import BillingError
from receivables import disputes
from receivables.attachments import check_upload, safe_name
from receivables.models import Dispute, DisputeAttachment, DisputeMessage
from tests.factories import AccountFactory
from tests.world import invoice_with_lines

PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"


def pdf_file(catalog: bytes) -> bytes:
    """A PDF with a classic cross-reference table: the catalog (1) and an empty page tree (2)."""
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate([catalog, PAGES], start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 3\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref


def pdf_with_object_stream(catalog: bytes) -> bytes:
    """PDF 1.5 as many producers write it: the catalog (2) and page tree (3) live inside a
    FlateDecode object stream (1), listed by a cross-reference stream (4)."""
    body, header = b"", []
    for number, obj in [(2, catalog), (3, PAGES)]:
        header.append(b"%d %d" % (number, len(body)))
        body += obj + b"\n"
    head = b" ".join(header) + b"\n"
    data = zlib.compress(head + body)
    out = b"%PDF-1.5\n"
    objstm = len(out)
    out += b"1 0 obj\n<< /Type /ObjStm /N 2 /First %d /Filter /FlateDecode /Length %d >>\n" % (
        len(head),
        len(data),
    )
    out += b"stream\n" + data + b"\nendstream\nendobj\n"
    xref = len(out)
    rows = [(0, 0, 65535), (1, objstm, 0), (2, 1, 0), (2, 1, 1), (1, xref, 0)]
    table = b"".join(bytes([t]) + a.to_bytes(4, "big") + b.to_bytes(2, "big") for t, a, b in rows)
    out += b"4 0 obj\n<< /Type /XRef /Size 5 /W [1 4 2] /Root 2 0 R /Length %d >>\n" % len(table)
    out += b"stream\n" + table + b"\nendstream\nendobj\n"
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PDF = pdf_file(CATALOG)
SCRIPT = b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.BILLING_DISPUTE_ATTACHMENT_MAX_BYTES = 1024
    settings.BILLING_DISPUTE_ATTACHMENTS_PER_MESSAGE = 2


HOSTILE = [
    ("invoice.html", b"<html><script>alert(1)</script></html>", "only PDF, PNG, JPEG"),
    ("logo.svg", b"<svg onload=alert(1)></svg>", "only PDF, PNG, JPEG"),
    ("setup.exe", b"MZ\x90\x00", "only PDF, PNG, JPEG"),
    ("noextension", b"hello", "only PDF, PNG, JPEG"),
    ("photo.png", b"<html><script>alert(1)</script></html>", "not a PNG file"),
    ("scan.jpg", PNG, "not a JPG file"),
    ("notes.txt", b"<!DOCTYPE html><script>alert(1)</script>", "not a TXT file"),
    ("notes.txt", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a TXT file"),
    ("data.csv", b"a,b\x00,c", "not a CSV file"),
    ("data.csv", "é,ü".encode("cp1252"), "not a CSV file"),
    ("fake.pdf", b"GIF89a" + b"\x00" * 10, "not a PDF file"),
    (
        "macro.pdf",
        PDF.replace(b"/Catalog", b"/Catalog /OpenAction << /S /JavaScript >>"),
        "PDFs with scripts",
    ),
    ("launch.pdf", PDF.replace(b"/Catalog", b"/Catalog /AA << /O << /S /Launch >> >>"), "scripts"),
    # Names spelled with #xx escapes are the same names to a PDF reader.
    (
        "escaped.pdf",
        pdf_file(CATALOG.replace(b">>", b"/OpenAction << /S /J#61vaScript >> >>")),
        "PDFs with scripts",
    ),
    (
        "escaped-js.pdf",
        pdf_file(CATALOG.replace(b">>", b"/AA << /O << /#4A#53 (x) >> >> >>")),
        "PDFs with scripts",
    ),
    (
        "launch-escaped.pdf",
        pdf_file(CATALOG.replace(b">>", b"/OpenAction << /S /#4caunch >> >>")),
        "PDFs with scripts",
    ),
    # Inside a compressed object stream the bytes show no name at all.
    (
        "objstm.pdf",
        pdf_with_object_stream(CATALOG.replace(b"2 0 R", b"3 0 R " + SCRIPT)),
        "PDFs with scripts",
    ),
    (
        "objstm-xfa.pdf",
        pdf_with_object_stream(CATALOG.replace(b"2 0 R", b"3 0 R /AcroForm << /X#46A [] >>")),
        "PDFs with scripts",
    ),
    # What cannot be read cannot be checked.
    ("unreadable.pdf", b"%PDF-1.5\n" + zlib.compress(SCRIPT), "cannot be read to check it"),
    ("empty.pdf", b"", "the file is empty"),
    ("big.pdf", PDF + b"0" * 1024, "larger than 1.0\u00a0KB"),
]


@pytest.mark.parametrize(("name", "content", "message"), HOSTILE)
def test_hostile_files_are_refused(name, content, message):
    with pytest.raises(BillingError, match=message):
        check_upload(upload(name, content))


def test_the_crafted_pdfs_hide_their_names_from_a_byte_search():
    # The cases above are only worth something if the old byte check missed them.
    for name in (
        "escaped.pdf",
        "escaped-js.pdf",
        "launch-escaped.pdf",
        "objstm.pdf",
        "objstm-xfa.pdf",
    ):
        content = next(c for n, c, _ in HOSTILE if n == name)
        assert not re.search(rb"/(JavaScript|JS|Launch|RichMedia|XFA)\b", content), name


def test_readable_pdfs_without_scripts_are_accepted():
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    written = io.BytesIO()
    writer.write(written)
    for content in (
        PDF,
        pdf_with_object_stream(CATALOG.replace(b"2 0 R", b"3 0 R")),
        written.getvalue(),
    ):
        assert check_upload(upload("scan.pdf", content)).content_type == "application/pdf"
    assert PdfReader(io.BytesIO(pdf_with_object_stream(CATALOG))).xref_objStm  # really inside


@pytest.mark.django_db
def test_a_refused_file_refuses_the_whole_dispute(finance):
    inv = invoice_with_lines(AccountFactory(), ["100.00"])
    with pytest.raises(BillingError, match="not a PNG file"):
        disputes.dispute_open(
            invoice=inv,
            category="other",
            message="See files",
            files=[upload("ok.pdf", PDF), upload("x.png", b"<script>")],
            user=finance,
        )
    with pytest.raises(BillingError, match="At most 2 files per message"):
        disputes.dispute_open(
            invoice=inv,
            category="other",
            message="See files",
            files=[upload(f"{n}.pdf", PDF) for n in range(3)],
            user=finance,
        )
    assert (Dispute.objects.count(), DisputeMessage.objects.count()) == (0, 0)
    inv.refresh_from_db()
    assert inv.disputed is False


def test_names_lose_paths_and_odd_characters():
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("C:\\Users\\x\\report.pdf") == "report.pdf"
    assert safe_name('inv"<script>.pdf') == "inv_script_.pdf"
    assert safe_name("...") == "attachment"
    assert safe_name("a" * 300 + ".pdf") == "a" * 92 + ".pdf"


def test_card_numbers_in_names_are_masked():
    assert safe_name("4111 1111 1111 1111.pdf") == "xxxx xxxx xxxx 1111.pdf"
    assert safe_name("receipt 5500-0000-0000-0004.png") == "receipt xxxx xxxx xxxx 0004.png"
    assert safe_name("card_4111_1111_1111_1111.txt") == "card_xxxx xxxx xxxx 1111.txt"
    assert safe_name("4111.1111.1111.1111.csv") == "xxxx xxxx xxxx 1111.csv"
    assert safe_name("4111111111111111.pdf") == "xxxx xxxx xxxx 1111.pdf"
    # Not card numbers (no Luhn, too short, an invoice number): unchanged.
    assert safe_name("report_2026.03.12.pdf") == "report_2026.03.12.pdf"
    assert safe_name("4111 1111 1111 1112.pdf") == "4111 1111 1111 1112.pdf"
    assert safe_name("INV-2026-00012.pdf") == "INV-2026-00012.pdf"
    with pytest.raises(BillingError, match=r"^xxxx xxxx xxxx 1111\.exe: only PDF"):
        check_upload(upload("4111 1111 1111 1111.exe", b"MZ"))


@pytest.mark.django_db
def test_accepted_files_are_stored_under_random_names_and_served_as_downloads(
    finance, client_for, tmp_path
):
    inv = invoice_with_lines(AccountFactory(), ["100.00"])
    dispute = disputes.dispute_open(
        invoice=inv,
        category="other",
        message="Timesheet and screenshot attached",
        files=[upload("../../timesheet.pdf", PDF), upload("screen.png", PNG)],
        user=finance,
    )
    stored = list(DisputeAttachment.objects.order_by("id"))
    assert [(a.original_name, a.content_type, a.size) for a in stored] == [
        ("timesheet.pdf", "application/pdf", len(PDF)),
        ("screen.png", "image/png", len(PNG)),
    ]
    assert stored[0].sha256 == hashlib.sha256(PDF).hexdigest()
    for attachment in stored:
        path = os.path.realpath(attachment.file.path)
        assert path.startswith(os.path.realpath(tmp_path) + "/dispute_attachments/")
        assert "timesheet" not in path and "screen" not in path
        assert len(os.path.basename(path).split(".")[0]) == 32
    response = client_for(finance).get(f"/receivables/disputes/attachments/{stored[0].pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="timesheet.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(response.streaming_content) == PDF
    assert dispute.messages.get().attachments.count() == 2
