"""Dispute attachments: what is accepted and how it is stored and served.

Accepted: PDF, PNG, JPEG, plain text and CSV, each up to BILLING_DISPUTE_ATTACHMENT_MAX_BYTES.
The type is decided from the file's first bytes and must agree with its extension (a `.png`
that is HTML is refused); PDFs carrying JavaScript, launch actions, rich media or XFA forms are refused;
text must be UTF-8 without NUL bytes. Files are stored under a random name with the detected
extension, never under the sender's name or path, and only ever served as a download with the
detected type, `nosniff` and a sandboxing CSP, so nothing uploaded runs in our origin.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse
from django.template.defaultfilters import filesizeformat

from core.errors import BillingError

# extension -> content type served
TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}
ACCEPT = ",".join(TYPES)  # for <input type=file accept=...>
PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|RichMedia|XFA)\b")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class CheckedFile:
    content: bytes
    name: str  # sanitised, for display and the download's filename
    extension: str
    content_type: str
    sha256: str


def _detected(ext: str, head: bytes, content: bytes) -> bool:
    if ext == ".pdf":
        return head.startswith(b"%PDF-")
    if ext == ".png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if ext in {".jpg", ".jpeg"}:
        return head.startswith(b"\xff\xd8\xff")
    if b"\x00" in content:
        return False
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Text that a browser would sniff as markup is not a plain text file.
    return not re.match(r"\s*<(?:!doctype|html|script|svg|\?xml)", text, re.IGNORECASE)


def safe_name(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = SAFE_NAME.sub("_", base).strip(" .") or "attachment"
    if len(base) > 100:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 95 - len(ext)] + dot + ext) if dot else base[:100]
    return base


def check_upload(upload: Any) -> CheckedFile:
    """Validate an uploaded file (Django UploadedFile, or anything with .name and .read())."""
    limit = settings.BILLING_DISPUTE_ATTACHMENT_MAX_BYTES
    name = safe_name(getattr(upload, "name", "") or "")
    ext = ("." + name.rpartition(".")[2].lower()) if "." in name else ""
    if ext not in TYPES:
        raise BillingError(
            f"{name}: only PDF, PNG, JPEG, text and CSV files can be attached "
            f"({', '.join(sorted(TYPES))})."
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise BillingError(f"{name}: larger than {filesizeformat(limit)}.")
    if not content:
        raise BillingError(f"{name}: the file is empty.")
    if not _detected(ext, content[:16], content):
        raise BillingError(f"{name}: the content is not a {ext[1:].upper()} file.")
    if ext == ".pdf" and PDF_ACTIVE.search(content):
        raise BillingError(f"{name}: PDFs with scripts, launch actions or forms are refused.")
    return CheckedFile(
        content=content,
        name=name,
        extension=ext,
        content_type=TYPES[ext],
        sha256=hashlib.sha256(content).hexdigest(),
    )


def check_uploads(uploads: list[Any]) -> list[CheckedFile]:
    most = settings.BILLING_DISPUTE_ATTACHMENTS_PER_MESSAGE
    if len(uploads) > most:
        raise BillingError(f"At most {most} files per message.")
    return [check_upload(u) for u in uploads]


def stored_file(checked: CheckedFile) -> ContentFile:
    """The content under a random name: the sender's name never reaches the file system."""
    return ContentFile(checked.content, name=secrets.token_hex(16) + checked.extension)


def attachment_response(attachment: Any) -> FileResponse:
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
