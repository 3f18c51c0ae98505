"""Large uploads import in the background (SPEC 1.4 upload pages): a real Celery worker on Redis
runs the same all-or-nothing import while the page polls a JSON progress endpoint; a rejected
file writes nothing but the job's problems."""

from __future__ import annotations

import re

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


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_upload_imports_on_the_worker_with_progress(
    celery_worker, client_for, billing_admin, auditor, settings
):
    settings.IMPORT_BACKGROUND_ROWS = 100
    client = client_for(billing_admin)
    data = big_file(400)
    preview = client.post(URL, {"file": SimpleUploadedFile("big.csv", data), "source": "auto"})
    token = re.search(rb'name="token" value="([^"]+)"', preview.content).group(1).decode()
    confirmed = client.post(URL, {"token": token, "confirm": "1"})
    job = ImportJob.objects.get()
    assert confirmed.status_code == 302 and confirmed["Location"] == f"/imports/jobs/{job.pk}/"
    page = client.get(confirmed["Location"]).content.decode()
    assert "import-progress" in page or "Imported" in page
    status_url = f"/imports/jobs/{job.pk}/status/"

    def finished():
        state = client.get(status_url).json()
        return state if state["finished"] else None

    state = wait_for(finished, timeout=120)
    assert state["status"] == "done", state
    assert (state["percent"], state["rows_total"], state["result"]["created"]) == (100, 400, 400)
    assert TimeEntry.objects.count() == 400
    record = ImportRecord.objects.get()
    job.refresh_from_db()
    assert (job.import_record_id, record.user, record.file_name) == (record.pk, billing_admin,
                                                                   "big.csv")  # fmt: skip
    assert set(TimeEntry.objects.values_list("import_record_id", flat=True)) == {record.pk}
    page = client.get(f"/imports/jobs/{job.pk}/").content.decode()
    assert "400 created, 0 updated, 0 unchanged" in page
    # Another role sees neither the page nor its status.
    assert client_for(auditor).get(status_url).status_code == 403


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
