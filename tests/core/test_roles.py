"""Each role reaches its own home page and is refused another role's page (issue 2)."""

import pytest
from django.db import connection
from django.urls import reverse

pytestmark = pytest.mark.django_db

HOME = {
    "billing_admin": "invoicing:review",
    "services_manager": "timesheets:dashboard",
    "finance": "receivables:aging",
    "auditor": "invoicing:review",
}
REFUSED = {
    "billing_admin": "receivables:aging",
    "services_manager": "invoicing:review",
    "finance": "timesheets:dashboard",
    "outsider": "invoicing:review",
}


@pytest.mark.parametrize("persona", sorted(HOME))
def test_home_redirects_each_role_to_its_page(request, client_for, persona):
    client = client_for(request.getfixturevalue(persona))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse(HOME[persona])
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("persona", sorted(REFUSED))
def test_other_roles_page_is_refused(request, client_for, persona):
    response = client_for(request.getfixturevalue(persona)).get(reverse(REFUSED[persona]))
    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_outsider_home_says_no_role(client_for, outsider):
    response = client_for(outsider).get("/")
    assert response.status_code == 403
    assert b"no Billable role" in response.content


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("invoicing:review"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_answers(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["database_engine"] == "PostgreSQL"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert body["database_version"] == cursor.fetchone()[0]


def test_login_in_browser_lands_on_role_home(page, live_server, services_manager):
    from tests.browser import log_in

    log_in(page, services_manager)
    assert page.url.endswith(reverse("timesheets:dashboard"))
    assert page.locator("h1").inner_text() == "Exceptions"
