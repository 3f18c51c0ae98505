"""Issue 17 items 12 to 16 and 18 against the production-like install over HTTP, every request
from one address (127.0.0.1, as users behind one NAT): log-in limits per user on every log-in
path, API tokens (hash only, expiry, revoked and ended by a password change), security headers,
the API docs' files served locally, the schema behind a login, the API's 429, and DEBUG-off error
pages. Login counters live in Redis (CACHE_URL), shared by both gunicorn workers."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import requests

from tests.attack.conftest import (
    api_token,
    csrf_of,
    log_in,
    no_5xx,
    page_session,
    record,
)
from tests.attack.install import TOKEN_RATE
from tests.conftest import PASSWORD

LOCKED = "Too many failed log-ins"


def test_five_failures_lock_that_user_not_everyone_behind_the_address(alive):
    guesser = requests.Session()
    for _ in range(5):
        wrong = log_in(alive, guesser, "lock.alice", "wrong")
        assert wrong.status_code == 200 and "lock.alice" not in wrong.url
    right = log_in(alive, requests.Session(), "lock.alice", PASSWORD)
    assert right.status_code == 429 and LOCKED in right.text
    # Another user on the same address is not locked out.
    assert page_session(alive, "lock.bob")


def test_admin_login_is_limited_too(alive):
    admin = requests.Session()

    def admin_login(password: str):
        form = admin.get(alive.url + "/admin/login/?next=/admin/")
        return admin.post(
            alive.url + "/admin/login/?next=/admin/",
            data={
                "username": "sue.super",
                "password": password,
                "csrfmiddlewaretoken": csrf_of(form.text),
            },
            headers={"Referer": alive.url + "/admin/login/"},
            allow_redirects=False,
        )

    statuses = [admin_login("wrong").status_code for _ in range(12)]
    assert set(statuses) <= {200, 429} and statuses[-1] == 429, statuses
    final = admin_login(PASSWORD)
    assert final.status_code == 429
    assert admin.get(alive.url + "/admin/", allow_redirects=False).status_code == 302


def test_failures_on_the_token_endpoint_lock_every_path(alive):
    for _ in range(5):
        wrong = requests.post(
            alive.url + "/api/v1/auth/token/", json={"username": "lock.carol", "password": "x"}
        )
        assert wrong.status_code == 400, wrong.text
    token = requests.post(
        alive.url + "/api/v1/auth/token/", json={"username": "lock.carol", "password": PASSWORD}
    )
    assert token.status_code == 429 and LOCKED in token.json()["detail"]
    page = log_in(alive, requests.Session(), "lock.carol", PASSWORD)
    assert page.status_code == 429


def test_tokens_are_stored_hashed_expire_and_end_on_revoke_and_password_change(alive):
    raw = api_token(alive, "tom.tokens")
    second = api_token(alive, "tom.tokens")
    bearer = {"Authorization": f"Token {raw}"}
    assert requests.get(alive.url + "/api/v1/payments/", headers=bearer).status_code == 200
    stored = alive.rows(
        "SELECT t.id, t.prefix, t.digest, t.expires_at, t.created_at FROM core_apitoken t "
        "JOIN auth_user u ON u.id = t.user_id WHERE u.username = 'tom.tokens' ORDER BY t.id"
    )
    assert len(stored) == 2
    for row in stored:
        assert raw not in repr(row) and second not in repr(row)
    assert stored[0][2] == hashlib.sha256(raw.encode()).hexdigest()
    lifetime = stored[0][3] - stored[0][4]
    assert lifetime == dt.timedelta(days=90)

    page = page_session(alive, "tom.tokens")
    elsewhere = page_session(alive, "tom.tokens")
    tokens_page = page.get(alive.url + "/accounts/tokens/")
    assert raw not in tokens_page.text and second not in tokens_page.text
    revoke = page.post(
        f"{alive.url}/accounts/tokens/{stored[1][0]}/revoke/",
        data={"csrfmiddlewaretoken": csrf_of(tokens_page.text)},
        headers={"Referer": alive.url + "/accounts/tokens/"},
    )
    no_5xx(revoke)
    second_bearer = {"Authorization": f"Token {second}"}
    assert requests.get(alive.url + "/api/v1/payments/", headers=second_bearer).status_code == 401

    form = page.get(alive.url + "/accounts/password/")
    changed = page.post(
        alive.url + "/accounts/password/",
        data={
            "old_password": PASSWORD,
            "new_password1": "An0ther-Billable-pw",
            "new_password2": "An0ther-Billable-pw",
            "csrfmiddlewaretoken": csrf_of(form.text),
        },
        headers={"Referer": alive.url + "/accounts/password/"},
    )
    assert changed.status_code == 200 and "Password changed" in changed.text
    assert requests.get(alive.url + "/api/v1/payments/", headers=bearer).status_code == 401
    assert (
        alive.count(
            "core_apitoken t JOIN auth_user u ON u.id = t.user_id", "u.username = 'tom.tokens'"
        )
        == 0
    )
    assert page.get(alive.url + "/accounts/tokens/", allow_redirects=False).status_code == 200
    gone = elsewhere.get(alive.url + "/accounts/tokens/", allow_redirects=False)
    assert gone.status_code == 302 and "/accounts/login/" in gone.headers["Location"]


def test_headers_docs_and_schema(alive):
    anonymous = requests.Session()
    login = anonymous.get(alive.url + "/accounts/login/")
    policy = login.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert (
        "frame-ancestors 'none'" in policy
        and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    schema = anonymous.get(alive.url + "/api/schema/", headers={"Accept": "application/json"})
    assert schema.status_code == 401
    docs = anonymous.get(alive.url + "/api/docs/", allow_redirects=False)
    assert docs.status_code == 302 and "/accounts/login/" in docs.headers["Location"]

    auditor = page_session(alive, "audrey.auditor")
    home = auditor.get(alive.url + "/")
    assert "no-store" in home.headers["Cache-Control"]
    finance = page_session(alive, "fiona.finance")
    csv = finance.get(
        alive.url + "/api/v1/reports/ar-aging/", params={"as_of": "2026-02-15", "format": "csv"}
    )
    assert csv.status_code == 200 and "no-store" in csv.headers["Cache-Control"]
    schema = auditor.get(alive.url + "/api/schema/", headers={"Accept": "application/json"})
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Billable API"
    page = auditor.get(alive.url + "/api/docs/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
    swagger = [a for a in assets if "swagger-ui" in a]
    assert swagger, assets
    for asset in swagger:
        served = auditor.get(alive.url + asset if asset.startswith("/") else asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
    script = auditor.get(alive.url + "/api/docs/", params={"script": ""})
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text


def test_an_api_token_over_its_rate_gets_429_with_retry_after(alive):
    limit = int(TOKEN_RATE.split("/")[0])
    client = requests.Session()
    client.headers["Authorization"] = "Token " + api_token(alive, "rate.rita")
    statuses = [client.get(alive.url + "/api/v1/payments/").status_code for _ in range(limit)]
    assert set(statuses) == {200}, statuses
    refused = client.get(alive.url + "/api/v1/payments/")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "detail" in refused.json()
    record(
        "API token rate", limit=TOKEN_RATE, status=429, retry_after=refused.headers["Retry-After"]
    )
    # Another user's token on the same address is unaffected.
    other = requests.get(
        alive.url + "/api/v1/payments/",
        headers={"Authorization": "Token " + api_token(alive, "fiona.finance")},
    )
    assert other.status_code == 200


def test_debug_off_error_pages_and_unknown_hosts(alive):
    missing = requests.get(alive.url + "/no-such-page/")
    assert missing.status_code == 404 and "There is nothing at this address." in missing.text
    assert "URLconf" not in missing.text and "Traceback" not in missing.text
    api_missing = requests.get(alive.url + "/api/v1/no-such-thing/")
    assert api_missing.status_code == 404 and "detail" in api_missing.json()
    evil = requests.get(alive.url + "/accounts/login/", headers={"Host": "evil.example"})
    assert evil.status_code == 400 and "DisallowedHost" not in evil.text
    no_5xx(missing, api_missing, evil)
