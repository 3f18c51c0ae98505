"""A header line of millions of columns is refused from its first megabyte (issue 17 item 7, at
the attack's size): the reading layer used to assemble, copy and decode the whole 35 MB line (and
strip, lower-case and sniff it character by character) before counting its columns, so the
production-like install's gunicorn worker grew 143 MB (tests/attack). tracemalloc measures what
reading the file allocates."""

from __future__ import annotations

import tempfile
import tracemalloc

import pytest

from core.csvio import CsvFileError
from core.reading.files import FileOptions, Table

MB = 1024 * 1024
HEADER = "Entry ID,Date,Employee ID,Project Code,Hours"


def wide_file(columns: int, *, before: str = ""):
    file = tempfile.TemporaryFile()
    file.write(before.encode())
    file.write(HEADER.encode())
    for start in range(0, columns - 5, 100_000):
        stop = min(columns - 5, start + 100_000)
        file.write(("," + ",".join(f"col{n:06d}" for n in range(start, stop))).encode())
    file.write(b"\r\nA-1,2026-03-02,E1,P100,1.50\r\n")
    file.seek(0)
    return file


def peak_of_reading(file, options: FileOptions | None = None) -> tuple[int, str]:
    tracemalloc.start()
    try:
        with pytest.raises(CsvFileError) as refused:
            list(Table(file, options or FileOptions(), max_bytes=50 * MB).records())
        return tracemalloc.get_traced_memory()[1], str(refused.value)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("options", [FileOptions(), FileOptions(delimiter=",")])
def test_a_35_mb_header_of_3_5_million_columns_is_refused_within_a_few_megabytes(options):
    with wide_file(3_500_000) as file:
        size = file.seek(0, 2)
        file.seek(0)
        assert size > 34 * MB
        peak, error = peak_of_reading(file, options)
    assert "line 1: column 1001:" in error and "more than 1000 columns" in error
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB for a {size / MB:.0f} MB line"


def test_a_wide_line_after_the_header_and_after_a_quoted_line_break_is_refused_early():
    # Line 2 opens a quoted value that ends on line 3; the wide line is line 4.
    with tempfile.TemporaryFile() as file:
        file.write(f'{HEADER}\r\nA-1,2026-03-02,E1,P100,"1.50\r\nnote"\r\n'.encode())
        file.write(("x," * 2_000_000 + "x\r\n").encode())
        file.seek(0)
        peak, error = peak_of_reading(file)
    assert "line 4: column 1001:" in error
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB"


def test_a_long_line_within_the_caps_is_still_read_whole():
    """Over 1 MB, with more than 1000 commas inside quotes: three cells, read as before."""
    cell = '"' + "a," * 450_000 + '"'
    with tempfile.TemporaryFile() as file:
        file.write(f"{HEADER}\r\nA-1,{cell},E1,P100,{'n' * 900_000}\r\n".encode())
        file.seek(0)
        records = list(Table(file, FileOptions(), max_bytes=50 * MB).records())
    assert [len(fields) for _, fields in records] == [5, 5]
    assert records[1][1][1] == "a," * 450_000 and len(records[1][1][4]) == 900_000
