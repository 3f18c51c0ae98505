"""Dispute attachments against hostile files: wrong types, disguised markup, scripted PDFs,
oversize, path tricks; stored under random names, served only as downloads."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import BillingError
from receivables import disputes
from receivables.attachments import check_upload, safe_name
from receivables.models import Dispute, DisputeAttachment, DisputeMessage
from tests.factories import AccountFactory
from tests.world import invoice_with_lines

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
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
        "scripts",
    ),
    ("launch.pdf", PDF.replace(b"/Catalog", b"/Catalog /AA << /O << /S /Launch >> >>"), "scripts"),
    ("empty.pdf", b"", "the file is empty"),
    ("big.pdf", PDF + b"0" * 1024, "larger than 1.0\u00a0KB"),
]


@pytest.mark.parametrize(("name", "content", "message"), HOSTILE)
def test_hostile_files_are_refused(name, content, message):
    with pytest.raises(BillingError, match=message):
        check_upload(upload(name, content))


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
