"""Issue 17 items 7 and 8 at the issue's sizes against the production-like install: each body is
refused (or, the valid JSON import, taken whole) with a 4xx JSON answer, no 5xx, nothing written,
and the gunicorn worker that served it grows less than BOUND_MB over its idle RSS (VmHWM after the
attack against VmRSS before; tests/attack/install.py). Before the fixes: the 200 MB body grew
the worker by 377 MB before its 400, the 34 MB / 3.5M-column CSV was accepted at 732 MB, the
3.34 MB JSON import answered 500 and 200,000-deep JSON answered 500."""

from __future__ import annotations

import json

import requests

from tests.api.test_limits import big_json_rows
from tests.attack.conftest import MB, api_token, full_size, measured, no_5xx, usage_ok
from tests.attack.wire import repeated, send

BOUND_MB = 64
HEADER = b"Entry ID,Date,Employee ID,Project Code,Hours,Billable,Approved,Notes\n"
ROW = b"BODY-1,2026-03-02,E1,P100,1.50,yes,yes,padding padding padding padding\n"


def entries(install) -> int:
    return install.count("timesheets_timeentry")


def test_a_200_mb_csv_body_is_refused_from_its_header_whoever_sends_it(alive):
    before = entries(alive)
    size = 200 * MB
    for who in (None, "oscar.outsider", "audrey.auditor", "fiona.finance", "bella.admin"):
        headers = {"Authorization": f"Token {api_token(alive, who)}"} if who else {}

        def attack(headers=headers):
            return send(
                alive.url,
                "/api/v1/time-entries/import/",
                repeated(ROW, size - len(HEADER)),
                content_type="text/csv",
                length=size,
                headers=headers,
            )

        answer, usage = measured(
            alive, f"200 MB text/csv body ({who or 'anonymous'})", attack, body_mb=200
        )
        assert answer.status_code == 413, answer.text[:300]
        assert answer.json() == {"detail": "The request body is 200 MB; the limit here is 50 MB."}
        assert answer.sent < 50 * MB  # answered long before the body was through
        usage_ok(usage, BOUND_MB)
    assert entries(alive) == before


def test_a_200_mb_chunked_body_without_length_is_not_read(alive):
    """No Content-Length: Django reads at most Content-Length bytes, so the body is empty."""
    token = api_token(alive, "bella.admin")
    before = entries(alive)
    size = (200 if full_size() else 60) * MB

    def attack():
        return send(
            alive.url,
            "/api/v1/time-entries/import/",
            repeated(ROW, size),
            content_type="text/csv",
            length=None,
            headers={"Authorization": f"Token {token}"},
        )

    answer, usage = measured(alive, "chunked text/csv body", attack, body_mb=size // MB)
    no_5xx(answer)
    assert 400 <= answer.status_code < 500 and "detail" in answer.json()
    usage_ok(usage, BOUND_MB)
    assert entries(alive) == before


def wide_csv(columns: int) -> bytes:
    cells = ",".join(f"col{n:06d}" for n in range(columns - 5))
    return HEADER.rstrip(b"\n").replace(b",Billable,Approved,Notes", b"") + b"," + cells.encode()


def test_a_csv_with_3_5_million_header_columns_is_refused_at_its_column_limit(alive):
    columns = 3_500_000 if full_size() else 350_000
    body = wide_csv(columns) + b"\n" + ROW
    token = api_token(alive, "bella.admin")
    before = entries(alive)
    for shape in ("text/csv", "multipart"):
        if shape == "text/csv":
            data, content_type = body, "text/csv"
        else:
            boundary = "AtTaCkBoUnDaRy"
            data = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                    f'filename="wide.csv"\r\nContent-Type: text/csv\r\n\r\n'
                ).encode()
                + body
                + f"\r\n--{boundary}--\r\n".encode()
            )
            content_type = f"multipart/form-data; boundary={boundary}"

        def attack(data=data, content_type=content_type):
            return send(
                alive.url,
                "/api/v1/time-entries/import/",
                [data[i : i + MB] for i in range(0, len(data), MB)],
                content_type=content_type,
                length=len(data),
                headers={"Authorization": f"Token {token}"},
            )

        answer, usage = measured(
            alive,
            f"{columns:,}-column CSV ({shape})",
            attack,
            body_mb=round(len(data) / MB, 1),
        )
        assert answer.status_code == 400, answer.text[:300]
        detail = json.dumps(answer.json())
        assert "line 1: column 1001" in detail, detail[:500]
        usage_ok(usage, BOUND_MB)
        assert entries(alive) == before


def json_rows(count: int, bad_last: bool = False) -> list[dict[str, str]]:
    """The rows of tests/api/test_limits.py, dated March: the January run of the stale-version
    attack must not bill them."""
    rows = big_json_rows(count, bad_last)
    for row in rows:
        row["Date"] = "2026-03-10"
    return rows


def test_a_3_34_mb_json_import_of_14000_rows_is_taken_whole_or_not_at_all(alive):
    count = 14_000 if full_size() else 3_000
    client = requests.Session()
    client.headers["Authorization"] = "Token " + api_token(alive, "bella.admin")
    url = alive.url + "/api/v1/time-entries/import/"
    before = entries(alive)
    bad = json.dumps(json_rows(count, bad_last=True)).encode()
    if full_size():
        assert 3.3e6 < len(bad) < 3.4e6
    refused, usage = measured(
        alive,
        f"{count:,}-row JSON import, bad last row",
        lambda: client.post(url, data=bad, headers={"Content-Type": "application/json"}),
        body_mb=round(len(bad) / 1e6, 2),
    )
    assert refused.status_code == 400, refused.text[:300]
    assert refused.json()["created"] == 0
    assert [e["column"] for e in refused.json()["errors"]] == ["Hours"]
    assert entries(alive) == before
    usage_ok(usage, BOUND_MB)

    good = json.dumps(json_rows(count)).encode()
    taken, usage = measured(
        alive,
        f"{count:,}-row JSON import",
        lambda: client.post(url, data=good, headers={"Content-Type": "application/json"}),
        body_mb=round(len(good) / 1e6, 2),
    )
    assert taken.status_code == 200, taken.text[:300]
    assert taken.json()["created"] == count
    assert entries(alive) == before + count
    usage_ok(usage, 2 * BOUND_MB)


def test_json_nested_200000_deep_is_a_400_everywhere_the_token_endpoint_included(alive):
    deep = ("[" * 200_000 + "]" * 200_000).encode()
    tokens = {"bella.admin": api_token(alive, "bella.admin")}
    tokens["fiona.finance"] = api_token(alive, "fiona.finance")
    before = (entries(alive), alive.count("receivables_payment"), alive.count("core_apitoken"))
    for path, user in (
        ("/api/v1/auth/token/", None),
        ("/api/v1/time-entries/import/", "bella.admin"),
        ("/api/v1/payments/", "fiona.finance"),
    ):
        headers = {"Content-Type": "application/json"}
        if user:
            headers["Authorization"] = f"Token {tokens[user]}"
        answer, usage = measured(
            alive,
            f"200,000-deep JSON {path}",
            lambda path=path, headers=headers: requests.post(
                alive.url + path, data=deep, headers=headers, timeout=60
            ),
        )
        assert answer.status_code == 400, (path, answer.text[:300])
        assert answer.json()["detail"] == "JSON parse error - nested more than 32 levels deep"
        usage_ok(usage, BOUND_MB)
    after = (entries(alive), alive.count("receivables_payment"), alive.count("core_apitoken"))
    assert after == before
