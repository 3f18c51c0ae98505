"""Import bodies and files are bounded (issue 17 item 7): columns per row and bytes per cell are
capped in the reading layer with a `line N: column M:` error and nothing written; uploads stream
to disk; a body over the limit is refused before it is read, with or without Content-Length.

The attack was a 34 MB CSV whose header has 3.5 million columns (accepted, 732 MB of memory);
here it is scaled to 200,000 columns (about 1.4 MB) so it runs in seconds, and the peak memory
the request allocates is measured with tracemalloc."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

from core.csvio import max_import_columns
from tests.api.conftest import token_client
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db

URL = "/api/v1/time-entries/import/"
HEADER = "Entry ID,Employee ID,Employee Name,Date,Project Code,Hours,Role,Billable,Approved,Notes"
ROW = "E-1,EMP-1,Ann,2026-01-05,PRJ-1,2.00,Engineer,yes,yes,ok"


def wide_csv(columns: int) -> bytes:
    extra = ",".join(f"x{i}" for i in range(columns - HEADER.count(",") - 1))
    return f"{HEADER},{extra}\r\n{ROW}\r\n".encode()


def peak_of(fn) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_a_header_of_200k_columns_is_refused_naming_line_and_column(billing_admin, record_property):
    body = wide_csv(200_000)
    client = token_client(billing_admin)
    before = TimeEntry.objects.count()
    # Once unmeasured: the first import request of a process loads modules (about 40 MB).
    client.generic("POST", URL, body, content_type="text/csv")
    peak, response = peak_of(lambda: client.generic("POST", URL, body, content_type="text/csv"))
    assert response.status_code == 400
    limit = max_import_columns()
    first = response.json()["errors"][0]
    assert (first["line"], first["column"]) == (1, f"column {limit + 1}")
    assert f"more than {limit} columns" in first["message"]
    assert TimeEntry.objects.count() == before  # nothing written
    record_property("peak_bytes", peak)
    print(f"\n200k-column CSV ({len(body) / 1e6:.1f} MB): peak {peak / 1e6:.1f} MB allocated")
    # The header split into 200,000 strings alone would take more than 12 MB.
    assert peak < 4 * len(body) + 2_000_000, peak


def test_a_row_wider_than_the_cap_is_refused_even_with_delimiters_in_quotes(billing_admin):
    limit = max_import_columns()
    quoted = '"' + "," * (limit + 5) + '"'  # one cell full of commas: not too many columns
    ok = f"{HEADER}\r\n{ROW.rsplit(',', 1)[0]},{quoted}\r\n".encode()
    client = token_client(billing_admin)
    response = client.generic("POST", URL + "?dry_run=1", ok, content_type="text/csv")
    assert response.status_code == 200, response.json()
    wide = f"{HEADER}\r\n{ROW}{',' * limit}\r\n".encode()
    response = client.generic("POST", URL, wide, content_type="text/csv")
    assert response.status_code == 400
    first = response.json()["errors"][0]
    assert (first["line"], first["column"]) == (2, f"column {limit + 1}")


def test_a_cell_over_1_mb_names_its_line_and_column(billing_admin):
    body = f"{HEADER}\r\n{ROW}\r\n{ROW.rsplit(',', 1)[0]},{'N' * (1024 * 1024 + 1)}\r\n".encode()
    response = token_client(billing_admin).generic("POST", URL, body, content_type="text/csv")
    assert response.status_code == 400
    first = response.json()["errors"][0]
    assert (first["line"], first["column"]) == (3, "column 10")
    assert "longer than 1 MB" in first["message"]
    assert not TimeEntry.objects.exists()


def test_xlsx_rows_are_capped_too(billing_admin):
    from openpyxl import Workbook

    limit = max_import_columns()
    book = Workbook()
    sheet = book.active
    sheet.append([*HEADER.split(","), *(f"x{i}" for i in range(limit))])
    sheet.append(ROW.split(","))
    out = io.BytesIO()
    book.save(out)
    upload = io.BytesIO(out.getvalue())
    upload.name = "wide.xlsx"
    response = token_client(billing_admin).post(URL, {"file": upload}, format="multipart")
    assert response.status_code == 400
    first = response.json()["errors"][0]
    assert (first["line"], first["column"]) == (1, f"column {limit + 1}")


def test_uploads_stream_to_disk():
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 256 * 1024
    assert settings.FILE_UPLOAD_HANDLERS[-1].endswith("TemporaryFileUploadHandler")


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that counts what the server reads of it."""

    def __init__(self, size: int) -> None:
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"a" * n
        self.read_bytes += n
        return n


def wsgi_post(path: str, stream: CountingStream, headers: dict[str, str], auth: str):
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BufferedReader(stream),
        "wsgi.errors": io.StringIO(),
        "HTTP_AUTHORIZATION": auth,
        **headers,
    }
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    status: list[str] = []
    # As Django's test client does: keep the test's own connection open across the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(WSGIHandler()(environ, lambda s, h, *a: status.append(s)))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return int(status[0].split()[0]), body


def test_over_limit_body_is_refused_before_it_is_read(billing_admin):
    token = token_client(billing_admin)._credentials["HTTP_AUTHORIZATION"]
    size = settings.BILLING_IMPORT_MAX_BYTES + 1024 * 1024
    stream = CountingStream(size)
    code, body = wsgi_post(
        URL, stream, {"CONTENT_TYPE": "text/csv", "CONTENT_LENGTH": str(size)}, token
    )
    assert code == 413
    assert stream.read_bytes == 0  # not one byte read
    # Chunked, without Content-Length: Django reads at most Content-Length bytes, i.e. none.
    stream = CountingStream(size)
    code, body = wsgi_post(
        URL, stream, {"CONTENT_TYPE": "text/csv", "HTTP_TRANSFER_ENCODING": "chunked"}, token
    )
    assert code == 400, body
    assert stream.read_bytes == 0
    assert not TimeEntry.objects.exists()
