"""Large uploads import in the background (SPEC 1.4 upload pages): a real Celery worker on Redis
runs the same all-or-nothing import while the page polls a JSON progress endpoint; a rejected
file writes nothing but the job's problems."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections, transaction

from core import import_jobs
from core.models import ImportJob, ImportRecord
from tests.imports.data import entries_csv, entry
from tests.worker import wait_for
from timesheets.importing import time_entry_import
from timesheets.models import TimeEntry

URL = "/time/import/"


def big_file(rows: int, *, bad_line: int | None = None) -> bytes:
    out = []
    for i in range(rows):
        hours = "x" if bad_line is not None and i + 2 == bad_line else "1.5"
        out.append(entry(**{"Entry ID": str(5000 + i), "Hours": hours}))
    return entries_csv(*out)


def finished_state(client, job: ImportJob) -> dict:
    status_url = f"/imports/jobs/{job.pk}/status/"

    def finished():
        state = client.get(status_url).json()
        return state if state["finished"] else None

    return wait_for(finished, timeout=120)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_upload_is_checked_then_imported_on_the_worker_with_progress(
    celery_worker, client_for, billing_admin, services_manager, auditor, settings
):
    settings.IMPORT_BACKGROUND_ROWS = 100
    client = client_for(billing_admin)
    data = big_file(400)
    # "Check file": the dry run goes to the worker too, not into this request.
    checking = client.post(URL, {"file": SimpleUploadedFile("big.csv", data), "source": "auto"})
    check = ImportJob.objects.get()
    assert check.dry_run and checking.status_code == 302
    assert checking["Location"] == f"/imports/jobs/{check.pk}/"
    page = client.get(checking["Location"])
    assert page.status_code == 302 or b"checked in the background" in page.content
    state = finished_state(client, check)
    assert state["status"] == "done", state
    assert (state["result"]["created"], state["result"]["source"]) == (400, "billable")
    # The check wrote nothing and kept the file for the import.
    assert not TimeEntry.objects.exists() and not ImportRecord.objects.exists()
    check.refresh_from_db()
    assert Path(check.path).exists() and check.import_record_id is None
    # Its page now goes on to the upload page's preview: counts and the first 20 stored rows.
    back = client.get(f"/imports/jobs/{check.pk}/")
    assert back.status_code == 302 and back["Location"] == f"{URL}?checked={check.pk}"
    preview = client.get(back["Location"])
    body = preview.content.decode()
    assert "Preview of big.csv" in body and 'data-count="created">400<' in body
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>(\d+)</td>', body)
    assert rows == [(str(i + 2), str(5000 + i)) for i in range(20)]
    token = re.search(rb'name="token" value="([^"]+)"', preview.content).group(1).decode()
    # Another session, even of a user who may import, cannot pick the check up.
    other = client_for(services_manager).get(back["Location"])
    assert other.status_code == 302 and other["Location"] == URL

    confirmed = client.post(URL, {"token": token, "confirm": "1"})
    job = ImportJob.objects.exclude(pk=check.pk).get()
    assert not job.dry_run and job.path == check.path
    assert confirmed.status_code == 302 and confirmed["Location"] == f"/imports/jobs/{job.pk}/"
    page = client.get(confirmed["Location"]).content.decode()
    assert "import-progress" in page or "Imported" in page
    state = finished_state(client, job)
    assert state["status"] == "done", state
    assert (state["percent"], state["rows_total"], state["result"]["created"]) == (100, 400, 400)
    assert TimeEntry.objects.count() == 400
    record = ImportRecord.objects.get()
    job.refresh_from_db()
    assert (job.import_record_id, record.user, record.file_name) == (record.pk, billing_admin,
                                                                   "big.csv")  # fmt: skip
    assert set(TimeEntry.objects.values_list("import_record_id", flat=True)) == {record.pk}
    assert not Path(job.path).exists()
    page = client.get(f"/imports/jobs/{job.pk}/").content.decode()
    assert "400 created, 0 updated, 0 unchanged" in page
    # Another role sees neither the page nor its status.
    assert client_for(auditor).get(f"/imports/jobs/{job.pk}/status/").status_code == 403
    # The check's preview is gone once the upload was imported.
    again = client.get(f"{URL}?checked={check.pk}", follow=True)
    assert b"That check has expired" in again.content


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_upload_whose_check_fails_shows_every_problem(
    celery_worker, client_for, billing_admin, settings
):
    settings.IMPORT_BACKGROUND_ROWS = 100
    client = client_for(billing_admin)
    data = big_file(300, bad_line=250)
    client.post(URL, {"file": SimpleUploadedFile("bad.csv", data), "source": "auto"})
    check = ImportJob.objects.get()
    assert finished_state(client, check)["status"] == "rejected"
    body = client.get(f"/imports/jobs/{check.pk}/", follow=True).content.decode()
    assert "bad.csv cannot be imported" in body
    assert re.search(r"<td class=\"num\">250</td><td>Hours</td>", body)
    assert 'name="token"' not in body  # nothing to confirm; the upload is forgotten
    assert not Path(check.path).exists()
    assert not TimeEntry.objects.exists() and not ImportRecord.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_payments_file_is_checked_and_imported_on_the_worker(
    celery_worker, client_for, finance, settings
):
    from agreements.models import Account
    from receivables.models import Payment

    settings.IMPORT_BACKGROUND_ROWS = 100
    Account.objects.create(external_id="ACC-1", name="Acme")
    lines = ["Payment ID,Date,Account ID,Amount,Currency"] + [
        f"P-{i:03},2026-11-{1 + i % 28:02},ACC-1,{10 + i}.50,USD" for i in range(150)
    ]
    data = ("\n".join(lines) + "\n").encode()
    client = client_for(finance)
    url = "/receivables/payments/upload/"
    checking = client.post(url, {"file": SimpleUploadedFile("big.csv", data), "source": "auto"})
    check = ImportJob.objects.get()
    assert (check.kind, check.dry_run, checking.status_code) == ("payments", True, 302)
    assert checking["Location"] == f"/imports/jobs/{check.pk}/"
    state = finished_state(client, check)
    assert (state["status"], state["result"]["created"]) == ("done", 150), state
    assert not Payment.objects.exists() and Path(check.path).exists()
    back = client.get(f"/imports/jobs/{check.pk}/")
    assert back["Location"] == f"{url}?checked={check.pk}"
    preview = client.get(back["Location"])
    body = preview.content.decode()
    assert "Read as billable (payments CSV, SPEC 1.3): 150 row(s)." in body
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>(P-\d+)</td><td>([\d-]+)</td>', body)
    assert rows == [(str(i + 2), f"P-{i:03}", f"2026-11-{1 + i % 28:02}") for i in range(20)]
    assert "ACC-1 (Acme)" in body
    token = preview.context["token"]

    confirmed = client.post(url, {"token": token})
    job = ImportJob.objects.exclude(pk=check.pk).get()
    assert (job.dry_run, confirmed["Location"]) == (False, f"/imports/jobs/{job.pk}/")
    state = finished_state(client, job)
    assert (state["status"], state["result"]["created"]) == ("done", 150), state
    assert Payment.objects.count() == 150
    assert Payment.objects.get(external_id="P-149").amount == Decimal("159.50")
    record = ImportRecord.objects.get()
    assert (record.kind, record.user, record.file_name, record.created) == (
        "payments", finance, "big.csv", 150
    )  # fmt: skip
    assert not Path(job.path).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_rejected_background_import_writes_nothing(celery_worker, tmp_path, billing_admin):
    path = tmp_path / "bad.csv"
    path.write_bytes(big_file(300, bad_line=250))
    job = import_jobs.start(
        kind="time_entries", run=time_entry_import, user=billing_admin,
        entry={"name": "bad.csv", "path": str(path), "choices": {}},
    )  # fmt: skip
    wait_for(lambda: ImportJob.objects.get(pk=job.pk).finished_at is not None, timeout=120)
    job.refresh_from_db()
    assert job.status == "rejected"
    assert job.result["errors"][0]["line"] == 250 and job.result["errors"][0]["column"] == "Hours"
    assert not TimeEntry.objects.exists() and not ImportRecord.objects.exists()
    assert not path.exists()  # the worker removed the upload


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_import_transaction_is_open(billing_admin, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(entries_csv(entry()))
    job = ImportJob.objects.create(kind="time_entries", path=str(path), runner="x")
    progress = import_jobs.Progress(job.pk)
    other = connections.create_connection("default")
    try:
        with transaction.atomic():
            progress(2500, "reading")
            with other.cursor() as cursor:
                cursor.execute(
                    "SELECT rows_done, phase FROM core_importjob WHERE id = %s", [job.pk]
                )
                assert cursor.fetchone() == (2500, "reading")
            progress(2600, "reading")  # fewer than PROGRESS_EVERY rows later: not written
            transaction.set_rollback(True)
    finally:
        progress.close()
        other.close()
    job.refresh_from_db()
    assert (job.rows_done, job.phase) == (2500, "reading")
    assert import_jobs.as_json(job)["percent"] == 99  # never 100 before it is done
    assert import_jobs.estimate_rows(str(path)) == 1


def test_small_files_stay_in_the_request(tmp_path, settings):
    settings.IMPORT_BACKGROUND_ROWS = 5000
    path = tmp_path / "small.csv"
    path.write_bytes(big_file(10))
    assert import_jobs.estimate_rows(str(path)) == 10 and not import_jobs.is_large(str(path))
