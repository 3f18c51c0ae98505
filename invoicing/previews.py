"""Watermarked previews of drafts, cached per (invoice, version).

Rendering costs about 15 ms per billed entry, so a large draft is rendered by a worker, never in
a web request: two reviewers opening a 600-entry preview must not stall the server. A preview is
stored under `previews/` in the default storage, named by the draft's version: any change to the
draft bumps the version, so a stored preview is never stale, and old versions are deleted when a
new one is stored. Small drafts (at most BILLING_PREVIEW_INLINE_ENTRIES entries) render inline.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from invoicing.models import EntryBilling, Invoice
from invoicing.pdf import invoice_pdf

logger = logging.getLogger(__name__)
PREVIEW_DIR = "previews"
# How long a queued render keeps others from queueing the same one (seconds).
PENDING_SECONDS = 300


def preview_name(invoice_id: int, version: int) -> str:
    return f"{PREVIEW_DIR}/invoice-{invoice_id}-v{version}.pdf"


def _stored(invoice_id: int, version: int) -> bytes | None:
    name = preview_name(invoice_id, version)
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def preview_render(*, invoice_id: int, version: int) -> bool:
    """Render and store the preview of a draft (or rejected invoice) at `version`. Returns False
    (and stores nothing) when the invoice is gone, final, or has moved to another version."""
    invoice = Invoice.objects.select_related("account").filter(pk=invoice_id).first()
    if invoice is None or invoice.is_final or invoice.version != version:
        return False
    name = preview_name(invoice_id, version)
    if default_storage.exists(name):
        return True
    pdf = invoice_pdf(invoice)
    default_storage.save(name, ContentFile(pdf))
    _, files = default_storage.listdir(PREVIEW_DIR)
    for other in files:
        if other.startswith(f"invoice-{invoice_id}-v") and other != name.rsplit("/", 1)[1]:
            default_storage.delete(f"{PREVIEW_DIR}/{other}")
    return True


def preview_get(invoice: Invoice) -> bytes | None:
    """The preview PDF of a draft, or None while a worker renders it (the caller answers 202)."""
    version = invoice.version
    pdf = _stored(invoice.pk, version)
    if pdf is not None:
        return pdf
    entries = EntryBilling.objects.filter(invoice_id=invoice.pk).count()
    if entries <= settings.BILLING_PREVIEW_INLINE_ENTRIES:
        return invoice_pdf(invoice)
    from invoicing.tasks import render_draft_preview_task

    if cache.add(f"preview-pending:{invoice.pk}:{version}", 1, timeout=PENDING_SECONDS):
        try:
            render_draft_preview_task.delay(invoice.pk, version)
        except Exception:  # noqa: BLE001 - broker down: the next request queues it again
            cache.delete(f"preview-pending:{invoice.pk}:{version}")
            logger.exception("could not queue the preview of invoice %s", invoice.pk)
    return _stored(invoice.pk, version)  # without a broker the task ran in-process
