"""The KPI tile's unbilled value is stored (timesheets.UnbilledValueSnapshot) and refreshed in the
background after what changes it (issue 16); the page reads the stored value, never prices and
never writes. The value stored is invoicing's own (`unbilled_time_value`, issue 13). Tasks run
in-process (eager Celery) once the on-commit callbacks are executed, or, with the `broker`
fixture, are sent to a queue of the test's own on the test Redis and read back from it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.processes import celery_publishing_to
from billing_site.celery import app
from tests.factories import AgreementFactory, RoleRateFactory, TimeEntryFactory
from tests.imports.data import entry
from tests.worker import REDIS_URL
from timesheets import services
from timesheets.importing import time_entry_import_rows
from timesheets.models import ReconciliationRun, UnbilledValueSnapshot
from timesheets.selectors import unbilled_value
from timesheets.tasks import reconcile_task

pytestmark = pytest.mark.django_db
JAN_31 = dt.date(2026, 1, 31)
DASHBOARD = "/time/dashboard/?month=2026-01"


@pytest.fixture(autouse=True)
def february(time_machine):
    time_machine.move_to(dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC))


def _world(projects: int = 1) -> None:
    for i in range(projects):
        a = AgreementFactory(project_code=f"PRJ-{i + 1}", hourly_rate=Decimal("100"))
        RoleRateFactory(agreement=a, role="Engineer", rate=Decimal("150"))
        TimeEntryFactory(project_code=a.project_code, duration_ms=2 * 3_600_000)


Sent = list[tuple[str, list[Any]]]
REFRESH = "timesheets.tasks.unbilled_snapshots_task"


@pytest.fixture
def broker() -> Iterator[Callable[[], Sent]]:
    """Tasks go to a queue of this test's own on the test Redis (no eager tasks, no worker):
    `broker()` -> the tasks sent so far, oldest first, as (task name, positional args)."""
    queue = f"test-kpi-{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)

    def sent() -> Sent:
        out = []
        for raw in reversed(client.lrange(queue, 0, -1)):  # kombu LPUSHes, workers BRPOP
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            out.append((message["headers"]["task"], args))
        return out

    try:
        with celery_publishing_to(REDIS_URL, queue):
            yield sent
    finally:
        client.delete(queue)


def _work(sent: Sent) -> None:
    """What a worker would do with the tasks sent: run each, in this process."""
    for name, args in sent:
        app.tasks[name](*args)


def _stored(last_day: dt.date = JAN_31) -> dict[str, Decimal]:
    return UnbilledValueSnapshot.objects.get(last_day=last_day).totals


def _tile(html: str) -> str:
    return html.split('id="kpi-unbilled"')[1].split("</form>")[0]


def test_a_reconciliation_run_stores_what_unbilled_time_value_says(
    django_capture_on_commit_callbacks,
):
    _world(2)
    old = services.unbilled_snapshot_refresh(last_day=dt.date(2024, 6, 30))  # over 400 days ago
    with django_capture_on_commit_callbacks(execute=True):
        services.reconciliation_run(as_of=dt.date(2026, 2, 10))
    # January is the dashboard's default month (the last closed one); a stored month nobody
    # asked for lately, and the current month, are refreshed on Refresh only.
    assert set(UnbilledValueSnapshot.objects.values_list("last_day", flat=True)) == {
        dt.date(2024, 6, 30),
        JAN_31,
    }
    assert UnbilledValueSnapshot.objects.get(pk=old.pk).as_of == old.as_of
    assert _stored() == unbilled_value(JAN_31) == {"USD": Decimal("600.00")}
    assert UnbilledValueSnapshot.objects.get(last_day=JAN_31).as_of is not None


def test_an_import_refreshes_the_stored_value_and_a_dry_run_does_not(
    django_capture_on_commit_callbacks, billing_admin
):
    _world(1)
    services.unbilled_snapshot_refresh(last_day=JAN_31)
    assert _stored() == {"USD": Decimal("300.00")}
    more = [entry(**{"Entry ID": "7001", "Project Code": "PRJ-1", "Hours": "1"})]
    with django_capture_on_commit_callbacks(execute=True) as dry:
        time_entry_import_rows(rows=more, user=billing_admin, dry_run=True)
    assert dry == [] and _stored() == {"USD": Decimal("300.00")}
    with django_capture_on_commit_callbacks(execute=True):
        result = time_entry_import_rows(rows=more, user=billing_admin)
    assert result.created == 1
    assert _stored() == unbilled_value(JAN_31) == {"USD": Decimal("450.00")}


def test_an_invoice_run_sends_one_refresh_and_leaves_the_stored_value_empty(
    django_capture_on_commit_callbacks, broker
):
    """The run's own flag refresh (a reconciliation) sends no refresh: the one at the run's end
    does, once, and it then counts the run's drafts."""
    from invoicing.services import invoice_run_generate

    _world(2)
    services.unbilled_snapshot_refresh(last_day=JAN_31)
    assert _stored() == {"USD": Decimal("600.00")}
    with django_capture_on_commit_callbacks(execute=True):
        invoice_run_generate(period=dt.date(2026, 1, 1))
    assert ReconciliationRun.objects.get().status == ReconciliationRun.Status.DONE
    sent = broker()
    assert [(name, args[0]) for name, args in sent] == [(REFRESH, ["2026-01-31"])]
    _work(sent)
    assert _stored() == unbilled_value(JAN_31) == {}  # all on the run's drafts


def test_the_nightly_run_refreshes_the_default_month_and_months_asked_for_lately_in_one_task(
    django_capture_on_commit_callbacks, broker
):
    """Not every stored month: January (the dashboard's default) and December (asked for with
    Refresh two days ago), in one task; November (asked for eight days ago) and October (never
    asked for) keep their values until someone presses Refresh."""
    _world(1)
    now = timezone.now()
    ago = dt.timedelta(days=30)
    for last_day, asked in [
        (dt.date(2025, 12, 31), now - dt.timedelta(days=2)),
        (dt.date(2025, 11, 30), now - dt.timedelta(days=8)),
        (dt.date(2025, 10, 31), None),
    ]:
        UnbilledValueSnapshot.objects.create(last_day=last_day, as_of=now - ago, requested_at=asked)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_task()  # the beat's reconcile-nightly: no arguments
    sent = broker()
    assert [(name, args[0]) for name, args in sent] == [(REFRESH, ["2025-12-31", "2026-01-31"])]
    _work(sent)
    fresh = UnbilledValueSnapshot.objects.filter(as_of__gt=now - dt.timedelta(minutes=1))
    assert sorted(fresh.values_list("last_day", flat=True)) == [dt.date(2025, 12, 31), JAN_31]
    assert _stored() == {"USD": Decimal("300.00")}
    assert _stored(dt.date(2025, 11, 30)) == {} and _stored(dt.date(2025, 10, 31)) == {}


def test_a_refresh_answered_since_it_was_asked_computes_nothing():
    """A redelivered task, or several changes in a row: a computation begun after the request
    already answered it; one asked later recomputes."""
    _world(1)
    asked = timezone.now() - dt.timedelta(seconds=1)
    services.unbilled_snapshot_refresh(last_day=JAN_31, requested_at=asked)
    TimeEntryFactory(project_code="PRJ-1", duration_ms=3_600_000)
    services.unbilled_snapshot_refresh(last_day=JAN_31, requested_at=asked)
    assert _stored() == {"USD": Decimal("300.00")}
    services.unbilled_snapshot_refresh(last_day=JAN_31, requested_at=timezone.now())
    assert _stored() == {"USD": Decimal("450.00")}


def test_the_page_shows_the_stored_value_and_never_prices(client_for, services_manager):
    _world(1)
    services.unbilled_snapshot_refresh(last_day=JAN_31)
    client = client_for(services_manager)
    html = client.get(DASHBOARD).content.decode()
    assert "USD 300.00" in _tile(html) and 'id="unbilled-as-of"' in html
    TimeEntryFactory(project_code="PRJ-1", duration_ms=3_600_000)  # the run would bill $450 now
    assert "USD 300.00" in _tile(client.get(DASHBOARD).content.decode())  # until the refresh


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(DASHBOARD).status_code == 200
    return len(ctx.captured_queries)


def test_the_pages_query_count_does_not_grow_with_the_groups(client_for, services_manager):
    client = client_for(services_manager)
    _world(1)
    services.unbilled_snapshot_refresh(last_day=JAN_31)
    one = _page_queries(client)
    for i in range(2, 8):
        a = AgreementFactory(project_code=f"MORE-{i}", hourly_rate=Decimal("90"))
        TimeEntryFactory(project_code=a.project_code)
    services.unbilled_snapshot_refresh(last_day=JAN_31)
    assert _stored() == {"USD": Decimal("840.00")}  # 300 + 6 x 90
    assert _page_queries(client) == one


def _writes(ctx: CaptureQueriesContext) -> list[str]:
    """The statements that wrote, but the login session's own (its expiry moves on use)."""
    verbs = ("INSERT", "UPDATE", "DELETE")
    sqls = [q["sql"] for q in ctx.captured_queries]
    return [q for q in sqls if q.lstrip().upper().startswith(verbs) and "django_session" not in q]


def test_a_month_without_a_value_says_so_and_the_page_writes_nothing(
    client_for, services_manager, auditor, broker, django_capture_on_commit_callbacks
):
    """GET only reads: a month with no stored value shows "Not computed yet" and its Refresh
    button, and neither stores a row nor sends a task; Refresh (POST) asks, once."""
    _world(1)
    client = client_for(services_manager)
    with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks() as asked:
        html = client.get(DASHBOARD).content.decode()
    assert 'id="unbilled-not-computed"' in html and 'id="unbilled-refresh"' in _tile(html)
    assert "Not computed yet: Refresh computes it." in _tile(html)
    assert _writes(ctx) == [] and asked == [] and broker() == []
    assert not UnbilledValueSnapshot.objects.exists()
    readonly = client_for(auditor).get(DASHBOARD).content.decode()
    assert "Not computed yet." in readonly and 'id="unbilled-refresh"' not in readonly
    refresh = {"month": "2026-01", "next": DASHBOARD}
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/time/kpis/unbilled/refresh/", refresh)
        client.post("/time/kpis/unbilled/refresh/", refresh)  # still pending: not sent again
    sent = broker()
    assert [(name, args[0]) for name, args in sent] == [(REFRESH, ["2026-01-31"])]
    assert "Being computed" in _tile(client.get(DASHBOARD).content.decode())
    _work(sent)
    html = client.get(DASHBOARD).content.decode()
    assert "USD 300.00" in _tile(html) and "Being computed" not in html
    empty = client.get("/time/dashboard/?month=2025-06").content.decode()
    assert "No time entries are dated in June 2025" in empty  # no time that month: no tile
    assert not UnbilledValueSnapshot.objects.filter(last_day=dt.date(2025, 6, 30))


def test_refresh_recomputes_for_a_services_manager_only(
    client_for, services_manager, auditor, billing_admin, django_capture_on_commit_callbacks
):
    _world(1)
    services.unbilled_snapshot_refresh(last_day=JAN_31)
    TimeEntryFactory(project_code="PRJ-1", duration_ms=3_600_000)
    url = "/time/kpis/unbilled/refresh/"
    for user in (auditor, billing_admin):
        assert client_for(user).post(url, {"month": "2026-01"}).status_code == 403
    assert _stored() == {"USD": Decimal("300.00")}
    assert 'id="unbilled-refresh"' not in client_for(auditor).get(DASHBOARD).content.decode()
    client = client_for(services_manager)
    assert 'id="unbilled-refresh"' in client.get(DASHBOARD).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"month": "2026-01", "next": DASHBOARD})
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    assert _stored() == unbilled_value(JAN_31) == {"USD": Decimal("450.00")}
    assert client.get(url).status_code == 405


def test_a_broker_that_cannot_take_the_refresh_fails_nothing(caplog):
    """The refresh is best effort (derived data): with the broker unreachable (a closed port, no
    eager tasks) the write that asked for it still succeeds, and the miss is logged. Before, an
    invoice run whose flag refresh enqueued it during a Redis restart ended `failed`."""
    with celery_publishing_to("redis://127.0.0.1:9/0"):
        with caplog.at_level("WARNING", logger="timesheets.services"):
            services._enqueue_refresh([JAN_31], timezone.now())
    assert "unbilled value refresh for 2026-01-31 not enqueued" in caplog.text
