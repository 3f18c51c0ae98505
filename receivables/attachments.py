"""Dispute attachments: what is accepted and how it is stored and served.

Accepted: PDF, PNG, JPEG, plain text and CSV, each up to BILLING_DISPUTE_ATTACHMENT_MAX_BYTES.
The type is decided from the file's first bytes and must agree with its extension (a `.png`
that is HTML is refused); PDFs carrying JavaScript, launch actions, rich media or XFA forms are refused
(names decoded, objects inside compressed object streams read with pypdf; a PDF that cannot be
read that way is refused);
text must be UTF-8 without NUL bytes. Card-like numbers in the file's name are masked, as in every
other customer text. Files are stored under a random name with the detected
extension, never under the sender's name or path, and only ever served as a download with the
detected type, `nosniff` and a sandboxing CSP, so nothing uploaded runs in our origin.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse
from django.template.defaultfilters import filesizeformat, pluralize
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from core.errors import BillingError
from receivables.allocation import mask_card_numbers

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
PDF_ACTIVE_NAMES = frozenset({"/JavaScript", "/JS", "/Launch", "/RichMedia", "/XFA"})
PDF_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]+")
PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_SCRIPTS = "PDFs with scripts, launch actions or forms are refused."
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
    """The name to store and show: no path, card-like numbers masked (the name is customer input
    like any message), then only letters, digits and `._ -`."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _mask_cards(base)
    base = SAFE_NAME.sub("_", base).strip(" .") or "attachment"
    if len(base) > 100:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 95 - len(ext)] + dot + ext) if dot else base[:100]
    return base


def _mask_cards(name: str) -> str:
    # File names also separate digit groups by `_` or `.`: the guard (spaces and hyphens) sees
    # them as spaces, and the name changes only where a card-like number was found.
    spaced = re.sub(r"(?<=\d)[_.]+(?=\d)", " ", name)
    masked = mask_card_numbers(spaced)
    # `*` is no character for a file name: `xxxx xxxx xxxx 1111.pdf`.
    return name if masked == spaced else masked.replace("*", "x")


def _decoded_names(content: bytes) -> bytes:
    # A PDF name may spell any character as #xx: /J#61vaScript is /JavaScript to a reader.
    return PDF_NAME.sub(
        lambda name: PDF_NAME_ESCAPE.sub(lambda h: bytes([int(h.group(1), 16)]), name.group(0)),
        content,
    )


def _pdf_names(content: bytes) -> set[str]:
    """Every name (dictionary keys and values, array items) in every object the PDF's
    cross-reference lists, those inside compressed object streams included, as pypdf reads them
    (#xx decoded). Raises when the file cannot be read that way."""
    reader = PdfReader(io.BytesIO(content), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise ValueError("encrypted")
    refs = [(num, gen) for gen, nums in reader.xref.items() for num in nums]
    refs += [(num, 0) for num in reader.xref_objStm]
    names: set[str] = set()
    for num, gen in refs:
        stack: list[Any] = [reader.get_object(IndirectObject(num, gen, reader))]
        while stack:
            obj = stack.pop()
            if isinstance(obj, NameObject):
                names.add(str(obj))
            elif isinstance(obj, DictionaryObject):
                names.update(str(key) for key in obj)
                stack.extend(obj.values())
            elif isinstance(obj, ArrayObject):
                stack.extend(obj)
    return names


def pdf_refusal(content: bytes) -> str:
    """Why a PDF is refused, or "". Scripts, launch actions, rich media and XFA forms are looked
    for in the raw bytes (names decoded) and in every object pypdf reads, so neither an escaped
    name nor a compressed object stream hides them; a PDF pypdf cannot read (or an encrypted one
    it cannot open) cannot be checked, so it is refused."""
    if PDF_ACTIVE.search(_decoded_names(content)):
        return PDF_SCRIPTS
    try:
        names = _pdf_names(content)
    except Exception:  # any parse failure: unreadable here means unchecked
        return "the PDF cannot be read to check it for scripts; print it to a new PDF and resend."
    if names & PDF_ACTIVE_NAMES:
        return PDF_SCRIPTS
    return ""


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
    if ext == ".pdf":
        refusal = pdf_refusal(content)
        if refusal:
            raise BillingError(f"{name}: {refusal}")
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
        raise BillingError(f"At most {most} file{pluralize(most)} per message.")
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
