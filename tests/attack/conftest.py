"""The attack session: one production-like install (tests/attack/install.py) for every test in
tests/attack, and the figures each attack measured, printed at the end and written to
var/attack-figures.json (docs/reliability.md, "Production-like attack run")."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator

import pytest
import requests

from tests.attack.install import Install, Usage
from tests.conftest import PASSWORD

FIGURES: list[dict] = []
MB = 1024 * 1024


def full_size() -> bool:
    """`make attack` (ATTACK_FULL=1): the issue's sizes; the suite runs the same attacks smaller."""
    return os.environ.get("ATTACK_FULL", "").strip().lower() in {"1", "yes", "true", "y"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/attack/" in str(item.fspath):
            item.add_marker(pytest.mark.attack)


@pytest.fixture(scope="session")
def install() -> Iterator[Install]:
    server = Install()
    try:
        server.start()
        FIGURES.append({"attack": "install", **{k: round(v, 1) for k, v in server.timings.items()}})
        yield server
    finally:
        server.stop()


@pytest.fixture
def alive(install) -> Iterator[Install]:
    yield install
    install.check_alive()


def record(name: str, **figures) -> None:
    figures = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
    FIGURES.append({"attack": name, "load": os.getloadavg()[0], **figures})


def measured(install: Install, name: str, attack, **extra):
    """Run attack() with the gunicorn workers' peaks reset; record status, time and memory."""
    usage = install.workers.reset_peaks()
    started = time.monotonic()
    result = attack()
    seconds = time.monotonic() - started
    install.workers.finish(usage)
    answers = result if isinstance(result, list | tuple) else [result]
    status = [getattr(a, "status_code", None) for a in answers]
    record(
        name,
        status=status[0] if len(status) == 1 else status,
        seconds=seconds,
        rss_idle_mb=usage.idle_mb,
        rss_peak_mb=usage.peak_mb,
        growth_mb=usage.growth_mb,
        **extra,
    )
    return result, usage


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("production-like attack run")
    for row in FIGURES:
        terminalreporter.write_line(json.dumps(row))
    path = os.path.join(os.path.dirname(__file__), "..", "..", "var", "attack-figures.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as out:
        json.dump({"full_size": full_size(), "figures": FIGURES}, out, indent=1)


# --- clients -------------------------------------------------------------------------------


def page_session(install: Install, username: str, password: str = PASSWORD) -> requests.Session:
    """Logged in through the login page, as a browser: CSRF cookie and token, then the form."""
    session = requests.Session()
    response = log_in(install, session, username, password)
    assert response.status_code == 200 and username in response.text, response.status_code
    return session


def log_in(install: Install, session: requests.Session, username: str, password: str):
    page = session.get(install.url + "/accounts/login/", timeout=30)
    return session.post(
        install.url + "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": csrf_of(page.text),
        },
        headers={"Referer": install.url + "/accounts/login/"},
        timeout=30,
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def api_token(install: Install, username: str, password: str = PASSWORD) -> str:
    response = requests.post(
        install.url + "/api/v1/auth/token/",
        json={"username": username, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def api(install: Install, username: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = "Token " + api_token(install, username)
    return session


def no_5xx(*responses) -> None:
    for response in responses:
        assert response.status_code < 500, (response.status_code, response.text[:500])


def usage_ok(usage: Usage, bound_mb: float) -> None:
    assert usage.growth_mb < bound_mb, (
        f"a gunicorn worker grew {usage.growth_mb:.1f} MB (bound {bound_mb} MB): {usage}"
    )
