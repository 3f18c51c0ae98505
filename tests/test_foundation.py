"""Foundation promises of issue 2: migrations, production settings, login limits, health."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.core.cache import cache
from django.urls import reverse

from bench.processes import reset_producer_pools

ROOT = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-" + "x7Qp2vL9" * 6,
    "ALLOWED_HOSTS": "billing.example.com",
}


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_migrations_apply_on_an_empty_postgresql_database():
    name = f"billable_migrate_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
        result = manage("migrate", "--noinput", env={"DEBUG": "1", "DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        plan = manage("showmigrations", "--plan", env={"DEBUG": "1", "DATABASE_URL": url})
        assert plan.returncode == 0, plan.stderr
        assert "[ ]" not in plan.stdout
        assert "[X]  invoicing.0001_initial" in plan.stdout
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT name FROM auth_group ORDER BY name")
                assert [r[0] for r in cur.fetchall()] == [
                    "Auditor",
                    "Billing admin",
                    "Finance",
                    "Services manager",
                ]
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_makemigrations_is_clean():
    result = manage("makemigrations", "--check", "--dry-run", env={"DEBUG": "1"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_with_production_settings_prints_no_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = dict(PROD_ENV)
    env.pop("SECRET_KEY")
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_manage_py_in_a_bare_shell_uses_development_settings_but_wsgi_refuses():
    bare = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=bare, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    web = subprocess.run(
        [sys.executable, "-c", "import billing_site.wsgi"],
        cwd=ROOT,
        env=bare,
        capture_output=True,
        text=True,
    )
    assert web.returncode != 0
    assert "SECRET_KEY is not set" in web.stderr


def test_production_cookies_are_secure():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.DEBUG)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(PROD_ENV, DJANGO_SETTINGS_MODULE="billing_site.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == ["True", "True", "True", "False"], result.stderr


def _settings_in_subprocess(code: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(DEBUG="1", DJANGO_SETTINGS_MODULE="billing_site.settings", **env_vars)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_default_database_is_the_embedded_postgresql():
    result = _settings_in_subprocess(
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "127.0.0.1",
        "54329",
        "billable",
        "True",
    ], result.stderr


def test_a_database_other_than_postgresql_is_refused():
    result = _settings_in_subprocess("pass", DATABASE_URL="sqlite:///var/x.sqlite3")
    assert result.returncode == 1
    assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr


@pytest.mark.django_db
def test_login_is_rate_limited_per_username(client, settings, billing_admin):
    settings.LOGIN_MAX_FAILURES = 3
    cache.clear()
    url = reverse("login")
    for _ in range(3):
        response = client.post(url, {"username": billing_admin.username, "password": "wrong"})
        assert response.status_code == 200
    # Locked out now: even the right password is refused, with a message.
    response = client.post(
        url, {"username": billing_admin.username, "password": "pw-Billable-2026"}
    )
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content
    assert "_auth_user_id" not in client.session
    cache.clear()
    response = client.post(
        url, {"username": billing_admin.username, "password": "pw-Billable-2026"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(billing_admin.pk)


@pytest.mark.django_db
def test_healthz_reports_broker_when_configured(client, settings):
    settings.CELERY_BROKER_URL = os.environ.get(
        "BILLABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"
    )
    from billing_site.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = settings.CELERY_BROKER_URL
    try:
        body = client.get("/healthz").json()
    finally:
        app.conf.broker_url = saved
        reset_producer_pools()
    assert body == {
        "status": "ok",
        "database": "ok",
        "database_engine": "PostgreSQL",
        "database_version": body["database_version"],
        "broker": "ok",
    }
    assert body["database_version"].split(".")[0].isdigit()


def test_first_migrate_gives_role_groups_their_admin_permissions():
    """On a fresh database, one migrate is enough: the sync runs after every app's permissions."""
    name = f"billable_perms_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
        assert (
            manage("migrate", "--noinput", env={"DEBUG": "1", "DATABASE_URL": url}).returncode == 0
        )
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name) as conn:
            with conn.cursor() as cur:
                cur.execute(
                    """SELECT g.name, p.codename FROM auth_group g
                       JOIN auth_group_permissions gp ON gp.group_id = g.id
                       JOIN auth_permission p ON p.id = gp.permission_id"""
                )
                granted = set(cur.fetchall())
        assert ("Auditor", "view_payment") in granted
        assert ("Auditor", "view_timeentry") in granted
        assert ("Auditor", "change_invoice") not in granted
        assert ("Finance", "add_payment") in granted
        assert ("Billing admin", "change_invoice") in granted
        assert ("Services manager", "change_flag") in granted
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_require_reason_trims_and_refuses_blank_with_what_it_was_for():
    from core.errors import BillingError, require_reason

    assert require_reason("  Customer PO 77 \n") == "Customer PO 77"
    with pytest.raises(BillingError, match=r"^A reason is required\.$"):
        require_reason(" ")
    with pytest.raises(BillingError, match=r"^A reason is required to dispute an invoice\.$"):
        require_reason(None, to="dispute an invoice")
