"""Upload previews never confirmed expire (issue 17 item 10): the hourly sweep deletes a preview
file older than BILLING_PREVIEW_TTL_MINUTES, and logging out deletes the user's previews."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from core import previews
from core.import_pages import SESSION_KEY
from core.tasks import expire_upload_previews_task
from tests.imports.data import agreement, agreements_csv

pytestmark = pytest.mark.django_db
URL = "/agreements/import/"


def preview(client) -> Path:
    data = agreements_csv(agreement())
    response = client.post(URL, {"file": SimpleUploadedFile("a.csv", data, "text/csv")})
    assert response.status_code == 200
    path = Path(client.session[SESSION_KEY]["agreements"]["path"])
    assert path.is_file()
    return path


def age(path: Path, minutes: float) -> None:
    then = time.time() - minutes * 60
    os.utime(path, (then, then))


def test_the_sweep_deletes_only_previews_past_their_ttl(
    client_for, billing_admin, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    stale = preview(client_for(billing_admin))
    fresh = preview(client_for(billing_admin))
    age(stale, previews.preview_ttl().total_seconds() / 60 + 1)
    payment_preview = tmp_path / "imports" / "payments" / "abc.upload"  # the payment page's
    payment_preview.parent.mkdir(parents=True)
    payment_preview.write_bytes(b"x")
    age(payment_preview, 24 * 60)
    keep = tmp_path / "imports" / "payments" / "keep.pdf"  # not a preview: never touched
    keep.write_bytes(b"x")
    age(keep, 24 * 60)
    assert expire_upload_previews_task() >= 2  # the beat job (runs in-process here)
    assert not stale.exists() and not payment_preview.exists()
    assert fresh.exists() and keep.exists()
    age(fresh, 10_000)
    call_command("expire_upload_previews")  # the twin command
    assert not fresh.exists()


def test_logout_deletes_the_users_previews(client_for, billing_admin, services_manager):
    mine = client_for(billing_admin)
    theirs = client_for(services_manager)
    path, other = preview(mine), preview(theirs)
    mine.post("/accounts/logout/")
    assert not path.exists()
    assert other.exists()  # another user's preview stays
    theirs.post("/accounts/logout/")
    assert not other.exists()
