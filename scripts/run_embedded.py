"""`make run`: the demo on PostgreSQL, with no other service needed.

Without DATABASE_URL: starts the embedded PostgreSQL (data in var/pg, 127.0.0.1:54329, see
core/embedded_pg.py), creates the `billable` database, then bootstraps the demo (migrate, seed on
an empty database, logins) and serves it. With DATABASE_URL: the same against that server.
"Billable is ready at URL" is printed once the login page answers. Ctrl-C or SIGTERM stops the
web server, then the embedded PostgreSQL; the data stays for the next run.

The demo is served as production serves it, with DEBUG off (see `served_env`): an unknown URL
shows the app's own 404 page, never Django's debug page that lists every URL pattern. `DEBUG=1
make run` gives the debug pages back.

Environment: PORT (web, 8000), BILLABLE_PG_DATA (var/pg), BILLABLE_PG_PORT (54329).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.embedded_pg import DEFAULT_PORT, EmbeddedPostgres, EmbeddedPostgresError  # noqa: E402

DATABASE = "billable"
READY_TIMEOUT = 120


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class Stop(Exception):
    """SIGTERM: unwind like Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stop


def served_env(env: dict[str, str]) -> dict[str, str]:
    """DEBUG off unless the caller set DEBUG, plus what a production setting needs to serve on
    plain HTTP at 127.0.0.1: a secret key (made once, kept in var/), the local host names, no
    HTTPS redirect, HSTS or secure-only cookies, and static files read by whitenoise straight
    from the app's folders (no collectstatic, which takes minutes on a small machine)."""
    env.setdefault("DEBUG", "0")
    if env["DEBUG"].strip().lower() in {"1", "true", "yes", "y", "on"}:
        return env
    if not env.get("SECRET_KEY"):
        key_file = ROOT / "var" / "secret-key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    for name, value in {
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "WHITENOISE_USE_FINDERS": "1",
    }.items():
        env.setdefault(name, value)
    return env


def start_database(env: dict[str, str]) -> EmbeddedPostgres | None:
    if env.get("DATABASE_URL"):
        say("Using the PostgreSQL server of DATABASE_URL")
        return None
    data_dir = Path(env.get("BILLABLE_PG_DATA") or ROOT / "var" / "pg")
    pg = EmbeddedPostgres(data_dir, port=int(env.get("BILLABLE_PG_PORT") or DEFAULT_PORT))
    if pg.initialized:
        say(f"Starting the embedded PostgreSQL ({data_dir}, port {pg.port})")
    else:
        say(f"First run: creating the embedded PostgreSQL cluster in {data_dir} (port {pg.port})")
    started = time.monotonic()
    pg.start()
    if pg.ensure_database(DATABASE):
        say(f"Created database {DATABASE}")
    say(f"PostgreSQL {pg.version()} is up ({time.monotonic() - started:.1f} s)")
    env["DATABASE_URL"] = pg.url(DATABASE)
    return pg


def web_command(port: str) -> list[str]:
    return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"]


def wait_until_serving(url: str, server: subprocess.Popen) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "accounts/login/", timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def stop_process_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def serve(env: dict[str, str], port: str) -> int:
    python = sys.executable
    say("Bootstrapping the demo: migrate, seed an empty database, demo logins")
    started = time.monotonic()
    boot = subprocess.run([python, "manage.py", "bootstrap_demo"], cwd=ROOT, env=env)
    if boot.returncode != 0:
        say("bootstrap_demo failed (see above)")
        return boot.returncode
    say(f"Demo ready in the database ({time.monotonic() - started:.1f} s); starting the web server")
    url = f"http://127.0.0.1:{port}/"
    # Own process group: Ctrl-C reaches us, and we stop the server (and its reloader) in order.
    server = subprocess.Popen(
        web_command(port),
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        if not wait_until_serving(url, server):
            say(f"The web server did not answer on {url}")
            return 1
        print(f"\nBillable is ready at {url}  (Ctrl-C stops it)\n", flush=True)
        return server.wait()
    finally:
        stop_process_group(server)


def main() -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    env = served_env(dict(os.environ))
    port = env.setdefault("PORT", "8000")
    pg = None
    try:
        pg = start_database(env)
        return serve(env, port)
    except (KeyboardInterrupt, Stop):
        return 0
    except EmbeddedPostgresError as exc:
        say(f"Embedded PostgreSQL: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the stop
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if pg is not None:
            pg.stop()
            say("Stopped the embedded PostgreSQL")


if __name__ == "__main__":
    sys.exit(main())
