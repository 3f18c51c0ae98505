"""The demo as `make run` serves it (scripts/run_embedded.py: its environment and its web
command, on the test database): DEBUG is off, so an unknown URL shows the app's own 404 page and
never Django's debug page listing every URL pattern (issue 15); static files and logging in over
plain HTTP on 127.0.0.1 still work."""

from __future__ import annotations

import http.cookiejar
import importlib.util
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from core import roles
from core.embedded_pg import free_port
from tests.conftest import PASSWORD
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("run_embedded", ROOT / "scripts" / "run_embedded.py")
assert _spec is not None and _spec.loader is not None
run_embedded = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_embedded)


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_served_env_turns_debug_off_unless_asked():
    env = run_embedded.served_env({"SECRET_KEY": "k"})
    assert (env["DEBUG"], env["SECRET_KEY"], env["ALLOWED_HOSTS"]) == (
        "0",
        "k",
        "127.0.0.1,localhost",
    )
    assert run_embedded.served_env({"DEBUG": "1"}) == {"DEBUG": "1"}


@pytest.mark.django_db(transaction=True)
def test_make_run_serves_the_apps_own_404_static_files_and_log_in(tmp_path):
    UserFactory(username="served.user", roles=[roles.FINANCE])
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"}
    }
    env = run_embedded.served_env(
        {**env, "SECRET_KEY": "served-test-key", "MEDIA_ROOT": str(tmp_path)}
    )
    env["DATABASE_URL"] = database_url()
    port = str(free_port())
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        run_embedded.web_command(port),
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert run_embedded.wait_until_serving(url, server), server.stderr
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + "no-such-page/", timeout=10)
        body = missing.value.read().decode()
        assert missing.value.code == 404
        assert "There is nothing at this address." in body and 'href="/static/billable.css' in body
        assert "URLconf" not in body and "Using the URLconf" not in body

        with urllib.request.urlopen(url + "static/billable.css", timeout=10) as css:
            assert css.status == 200 and b"--" in css.read()

        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        browser.open(url + "accounts/login/", timeout=10).read()
        csrf = next(c for c in jar if c.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": "served.user", "password": PASSWORD, "csrfmiddlewaretoken": csrf.value}
        ).encode()
        home = browser.open(url + "accounts/login/", data=form, timeout=10)
        session = next(c for c in jar if c.name == "sessionid")
        assert not session.secure  # the browser sends it back over http://127.0.0.1
        assert home.status == 200 and "served.user" in home.read().decode()
    finally:
        run_embedded.stop_process_group(server)
