"""Issue 17 items 1, 2, 3, 9 and 11 against the production-like install over HTTP: four eyes,
approval of a version nobody reviewed, a run for a month that is not over, a future or ZZZ
payment, bad dates, and two auditors opening the preview of a 600-entry draft while /healthz is
polled. Each refusal is checked in the install's database: nothing was written."""

from __future__ import annotations

import threading
import time

import requests

from tests.attack.conftest import api, csrf_of, measured, no_5xx, page_session, record

FOUR_EYES = "another billing admin must approve it"
CHANGED = "changed since you opened it; review again"


def numbered(install) -> int:
    return install.count("invoicing_invoice", "number IS NOT NULL")


def wait_json(session, url: str, done, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = session.get(url, timeout=30).json()
        if done(body):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{url} not done in {timeout} s: {body}")


def test_every_admin_who_changed_a_draft_is_barred_from_approving_it(alive):
    world = alive.world
    pk, first = world["four_eyes_draft"], world["four_eyes_lines"][0]
    url = f"{alive.url}/api/v1/invoices/{pk}/"
    bella, bruno = api(alive, "bella.admin"), api(alive, "bruno.admin")
    down = bella.post(
        url + "adjust/", json={"line": first, "amount": "0.01", "reason": "Write-down"}
    )
    assert down.status_code == 200, down.text
    # B rewords the same line: this used to overwrite the adjuster and the reason.
    reword = bruno.post(
        url + "adjust/", json={"line": first, "description": "Consulting", "reason": "wording"}
    )
    assert reword.status_code == 200, reword.text
    version = reword.json()["version"]
    before = numbered(alive)
    for client in (bella, bruno):
        refused = client.post(url + "approve/", json={"version": version})
        assert refused.status_code == 409, refused.text
        assert FOUR_EYES in refused.json()["detail"]
    assert numbered(alive) == before
    assert alive.rows(
        "SELECT u.username, a.reason FROM invoicing_invoiceadjustment a "
        "JOIN auth_user u ON u.id = a.user_id WHERE a.invoice_id = %s ORDER BY a.id",
        (pk,),
    ) == [("bella.admin", "Write-down"), ("bruno.admin", "wording")]

    carla = api(alive, "carla.admin")
    done = carla.post(url + "approve/", json={"version": version})
    assert done.status_code == 200, done.text
    assert done.json()["number"].startswith("INV-2026-")
    # The final PDF is rendered by the real worker after the commit.
    wait_json(carla, url, lambda body: body["pdf_status"] == "ready")


def test_a_draft_changed_by_a_run_after_review_is_refused_on_the_api_and_the_page(alive):
    pk = alive.world["stale_draft"]
    url = f"{alive.url}/api/v1/invoices/{pk}/"
    bella = api(alive, "bella.admin")
    seen = bella.get(url).json()
    page = page_session(alive, "bella.admin")
    review = page.get(f"{alive.url}/invoices/{pk}/")
    assert review.status_code == 200 and f'value="{seen["version"]}"' in review.text
    row = {
        "Entry ID": "STALE-1",
        "Date": "2026-01-28",
        "Employee ID": "E1",
        "Project Code": "P900",
        "Hours": "8",
        "Billable": "yes",
        "Approved": "yes",
    }
    imported = api(alive, "sam.manager").post(
        alive.url + "/api/v1/time-entries/import/", json=[row]
    )
    assert imported.status_code == 200, imported.text
    run = bella.post(alive.url + "/api/v1/invoice-runs/", json={"period": "2026-01"})
    assert run.status_code == 202, run.text
    run_url = f"{alive.url}/api/v1/invoice-runs/{run.json()['id']}/"
    wait_json(bella, run_url, lambda body: body["status"] == "done")
    now = bella.get(url).json()
    assert now["version"] == seen["version"] + 1 and now["total"] != seen["total"]
    before = numbered(alive)
    refused = bella.post(url + "approve/", json={"version": seen["version"]})
    assert refused.status_code == 409 and CHANGED in refused.json()["detail"], refused.text
    unnamed = bella.post(url + "approve/", json={})
    assert unnamed.status_code == 400 and "version" in unnamed.json()["errors"]
    on_page = page.post(
        f"{alive.url}/invoices/{pk}/approve/",
        data={"version": seen["version"], "csrfmiddlewaretoken": csrf_of(review.text)},
        headers={"Referer": f"{alive.url}/invoices/{pk}/"},
    )
    no_5xx(on_page)
    assert CHANGED in on_page.text
    assert numbered(alive) == before
    assert bella.get(url).json()["status"] == "draft"


def test_a_run_for_a_month_not_over_is_refused_and_writes_nothing(alive):
    bella = api(alive, "bella.admin")
    before = (alive.count("invoicing_invoicerun"), alive.count("invoicing_invoice"))
    run = bella.post(alive.url + "/api/v1/invoice-runs/", json={"period": "2099-01"})
    assert run.status_code == 409, run.text
    assert "2099" in run.json()["detail"]
    assert (alive.count("invoicing_invoicerun"), alive.count("invoicing_invoice")) == before


def test_a_future_payment_and_a_zzz_currency_are_refused(alive):
    fiona = api(alive, "fiona.finance")
    before = (alive.count("receivables_payment"), alive.count("receivables_allocation"))
    base = {"account_id": "ACC-A", "date": "2026-02-01", "amount": "10.00", "currency": "USD"}
    future = fiona.post(alive.url + "/api/v1/payments/", json={**base, "date": "2099-01-01"})
    assert future.status_code == 400, future.text
    assert "cannot be dated in the future" in str(future.json()["errors"]["date"])
    zzz = fiona.post(alive.url + "/api/v1/payments/", json={**base, "currency": "ZZZ"})
    assert zzz.status_code == 400, zzz.text
    assert "not an ISO 4217 currency code" in str(zzz.json()["errors"]["currency"])
    assert (alive.count("receivables_payment"), alive.count("receivables_allocation")) == before


BAD_DATES = ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01", "2026-02-30", "soon", "-1"]


def test_bad_dates_are_400_json_on_the_api_and_a_form_error_on_pages(alive):
    fiona, audrey = api(alive, "fiona.finance"), api(alive, "audrey.auditor")
    page = page_session(alive, "audrey.auditor")
    for value in BAD_DATES:
        aging = fiona.get(alive.url + "/api/v1/reports/ar-aging/", params={"as_of": value})
        assert aging.status_code == 400, (value, aging.status_code, aging.text[:200])
        assert aging.headers["Content-Type"].startswith("application/json")
        assert "as_of" in str(aging.json())
        for path, name in (
            ("/api/v1/time-entries/", "date_from"),
            ("/api/v1/invoices/", "invoice_date_from"),
        ):
            listed = audrey.get(alive.url + path, params={name: value})
            assert listed.status_code == 400, (path, value, listed.status_code)
        screen = page.get(alive.url + "/receivables/aging/", params={"as_of": value})
        no_5xx(screen)
        assert screen.status_code in (200, 400) and "Traceback" not in screen.text
    ok = fiona.get(alive.url + "/api/v1/reports/ar-aging/", params={"as_of": "2026-01-31"})
    assert ok.status_code == 200


def test_two_auditors_open_the_600_entry_preview_while_healthz_answers(alive):
    pk = alive.world["large_draft"]
    assert alive.world["large_draft_entries"] > 600
    auditors = [page_session(alive, name) for name in ("audrey.auditor", "abe.auditor")]
    url = f"{alive.url}/invoices/{pk}/pdf/"
    polls: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            started = time.monotonic()
            health = requests.get(alive.url + "/healthz", timeout=60)
            polls.append(time.monotonic() - started)
            assert health.status_code == 200
            time.sleep(0.2)

    def preview():
        answers = [None, None]

        def open_it(i: int) -> None:
            answers[i] = auditors[i].get(url, timeout=120)

        threads = [threading.Thread(target=open_it, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return answers

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        started = time.monotonic()
        (first, second), usage = measured(alive, "600-entry preview, two auditors", preview)
        assert (first.status_code, second.status_code) == (202, 202)
        assert first.headers["Retry-After"] == "5"
        deadline = time.monotonic() + 240
        pdfs = []
        while time.monotonic() < deadline and len(pdfs) < 2:
            pdfs = [a.get(url, timeout=120) for a in auditors]
            pdfs = [p for p in pdfs if p.status_code == 200]
            if len(pdfs) < 2:
                time.sleep(2)
        ready = time.monotonic() - started
    finally:
        stop.set()
        poller.join()
    assert len(pdfs) == 2 and pdfs[0].content.startswith(b"%PDF")
    assert pdfs[0].content == pdfs[1].content
    record(
        "healthz during the preview",
        polls=len(polls),
        healthz_max_s=max(polls),
        preview_ready_s=ready,
        entries=alive.world["large_draft_entries"],
    )
    assert max(polls) < 2.0, polls
    # The preview was rendered once, by the worker, for this version.
    assert alive.log("celery").count("render_draft_preview_task") >= 1
